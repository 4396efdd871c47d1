// Unit tests for src/core/webhooks/settings.ts: the endpoints and secrets checked at start-up
// (docs/api.md section 10). A setting that cannot work is refused with the option it names and
// the exact message; https anywhere, http only to a loopback address, never credentials in a URL,
// and only `whsec_` secrets of at least 24 random bytes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isLoopback, WebhookSettingError, webhookSettingsOf } from "../../../../src/core/webhooks/settings.js";

const bytes = (n: number, fill = 7) => Buffer.alloc(n, fill).toString("base64");
const SECRET = `whsec_${bytes(32)}`;
const OTHER = `whsec_${bytes(24, 9)}`;

/** The error `fn` throws: a WebhookSettingError, with its option and message. */
function refusal(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof WebhookSettingError, `a WebhookSettingError, not ${String(error)}`);
    return { option: error.option, message: error.message };
  }
  assert.fail("expected a refusal");
}

const BAD_SECRET = {
  option: "webhookSecret",
  message: "must be whsec_ followed by the base64 of at least 24 random bytes",
};
const NOT_HTTPS = { option: "webhookUrls", message: "must be https:// (http:// only for a loopback address)" };

describe("webhookSettingsOf", () => {
  test("no URL set: no webhooks at all (undefined), blank entries and a blank secret included", () => {
    assert.equal(webhookSettingsOf(undefined, undefined), undefined);
    assert.equal(webhookSettingsOf("", undefined), undefined);
    assert.equal(webhookSettingsOf(" , ,", ""), undefined);
  });

  test("a secret without a URL is refused: a secret nobody uses is a configuration mistake", () => {
    assert.deepEqual(
      refusal(() => webhookSettingsOf(undefined, SECRET)),
      { option: "webhookSecret", message: "is set but no webhook URL is" },
    );
    assert.deepEqual(
      refusal(() => webhookSettingsOf(" ", "x")),
      { option: "webhookSecret", message: "is set but no webhook URL is" },
    );
  });

  test("URLs are comma-separated and trimmed; secrets are separated by spaces or commas, every one kept in order", () => {
    const settings = webhookSettingsOf(
      " https://a.example/hook ,, http://127.0.0.1:9/x ",
      ` ${SECRET},${OTHER}\n\t${SECRET.replace("7", "8")} `,
    );
    assert.deepEqual(settings, {
      urls: ["https://a.example/hook", "http://127.0.0.1:9/x"],
      secrets: [SECRET, OTHER, SECRET.replace("7", "8")],
    });
  });

  test("one URL twice is refused", () => {
    assert.deepEqual(
      refusal(() => webhookSettingsOf("https://a.example/x, https://a.example/x", SECRET)),
      { option: "webhookUrls", message: "names one URL twice" },
    );
  });

  test("URLs without a secret are refused (every delivery is signed)", () => {
    for (const secret of [undefined, "", " , "]) {
      assert.deepEqual(
        refusal(() => webhookSettingsOf("https://a.example/x", secret)),
        { option: "webhookSecret", message: "must be set when webhook URLs are (a whsec_ secret)" },
        String(secret),
      );
    }
  });

  test("a text that is not an absolute URL is refused", () => {
    for (const url of ["hooks.example.com/x", "/relative", "https://"]) {
      assert.deepEqual(
        refusal(() => webhookSettingsOf(url, SECRET)),
        { option: "webhookUrls", message: "must be absolute https:// URLs, comma-separated" },
        url,
      );
    }
  });

  test("credentials in a URL are refused, a user name alone or a password alone too", () => {
    for (const url of ["https://user:pw@a.example/x", "https://user@a.example/x", "https://:pw@a.example/x", "http://u:p@127.0.0.1/x"]) {
      assert.deepEqual(
        refusal(() => webhookSettingsOf(url, SECRET)),
        { option: "webhookUrls", message: "must not carry credentials" },
        url,
      );
    }
  });

  test("https anywhere; http only to a loopback address; any other scheme refused", () => {
    for (const url of [
      "https://a.example/x",
      "https://192.0.2.1/x",
      "http://127.0.0.1/x",
      "http://127.200.3.4:8/x",
      "http://localhost/x",
      "http://[::1]/x",
    ]) {
      assert.deepEqual(webhookSettingsOf(url, SECRET)?.urls, [url], url);
    }
    for (const url of [
      "http://a.example/x",
      "http://192.0.2.1/x",
      "http://128.0.0.1/x",
      "http://127.example/x",
      "http://[::2]/x",
      "ftp://127.0.0.1/x",
      "ws://localhost/x",
    ]) {
      assert.deepEqual(
        refusal(() => webhookSettingsOf(url, SECRET)),
        NOT_HTTPS,
        url,
      );
    }
  });

  test("a secret is whsec_ and the base64 of 24 bytes or more, nothing before or after", () => {
    assert.deepEqual(webhookSettingsOf("https://a.example/x", `whsec_${bytes(24)}`)?.secrets, [`whsec_${bytes(24)}`]);
    const refused = [
      `whsec_${bytes(23)}`, // 23 bytes
      bytes(32), // no prefix
      `xwhsec_${bytes(32)}`, // something before
      `WHSEC_${bytes(32)}`,
      `whsec_${bytes(32)}!`, // something after
      `whsec_${bytes(32)}===`, // three pad characters
      `whsec_${bytes(31)}.${bytes(3)}`,
      "whsec_",
    ];
    for (const secret of refused)
      assert.deepEqual(
        refusal(() => webhookSettingsOf("https://a.example/x", secret)),
        BAD_SECRET,
        secret,
      );
    // One bad secret among good ones refuses the setting.
    assert.deepEqual(
      refusal(() => webhookSettingsOf("https://a.example/x", `${SECRET} whsec_${bytes(10)}`)),
      BAD_SECRET,
    );
  });
});

describe("isLoopback", () => {
  test("127.0.0.0/8, ::1 (both spellings, bracketed or not) and localhost", () => {
    for (const host of ["localhost", "127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "[0:0:0:0:0:0:0:1]"]) {
      assert.equal(isLoopback(host), true, host);
    }
  });

  test("nothing else: other addresses, names that merely start with 127. or localhost, half a bracket", () => {
    for (const host of [
      "128.0.0.1",
      "1.127.0.0",
      "127.example.com",
      "localhost.example.com",
      "::2",
      "[::2]",
      "[::1",
      "::1]",
      "a::1]",
      "[::1x",
      "example.com",
      "0.0.0.0",
      "::",
    ]) {
      assert.equal(isLoopback(host), false, host);
    }
  });
});
