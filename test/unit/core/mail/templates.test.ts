// Unit tests for src/core/mail/templates.ts: every mail tokenver sends, word for word (what a user
// reads, and what tells them to act when it was not them), the link alone on a line of the plain
// text, an HTML part made of the same paragraphs with everything a user or a link brings in escaped,
// and a subject that can never carry a header break.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isTemplateName, render, TEMPLATES } from "../../../../src/core/mail/templates.js";

const LINK = "https://id.example/account/verify#token=abcDEF123_-";
const html = (...paragraphs: string[]) => `<!doctype html>\n<html><body>\n${paragraphs.join("\n")}\n</body></html>\n`;

describe("render", () => {
  test("verify_email: the plain text with the link alone on its line, and the HTML from the same paragraphs", () => {
    assert.deepEqual(render("verify_email", { link: LINK }), {
      subject: "Confirm your email address",
      text: `Open this link to confirm your email address:\n\n${LINK}\n\nThe link works once. If you did not ask for it, ignore this mail.\n`,
      html: html(
        "<p>Open this link to confirm your email address:</p>",
        `<p><a href="${LINK}">Confirm the address</a></p>`,
        "<p>The link works once. If you did not ask for it, ignore this mail.</p>",
      ),
    });
  });

  test("password_reset: what to do if it was not you, after the link", () => {
    const mail = render("password_reset", { link: LINK });
    assert.equal(mail.subject, "Reset your password");
    assert.equal(
      mail.text,
      "Someone (we hope you) asked to reset the password of the account with this address. Open this link to choose a new one:\n\n" +
        `${LINK}\n\n` +
        "The link works once and expires soon. If you did not ask for it, ignore this mail: your password stays as it is.\n",
    );
    assert.ok(mail.html.includes(`<p><a href="${LINK}">Choose a new password</a></p>`));
  });

  test("the notices without a link", () => {
    const expected: Array<[Parameters<typeof render>[0], string, string]> = [
      [
        "password_reset_done",
        "Your password was reset",
        "The password of your account was reset, and every session of it was signed out.\n\nIf this was not you, reset your password again now and check the address on your account.\n",
      ],
      [
        "account_deleted",
        "Your account was deleted",
        "Your account and every session of it were deleted.\n\nIf this was not you, contact the service's administrator.\n",
      ],
      [
        "session_revoked_password_guessing",
        "A session of your account was signed out",
        "A signed-in session of your account entered a wrong password too many times, so it was signed out.\n\nIf this was not you, change your password at once: every session of the account then ends.\n",
      ],
    ];
    for (const [name, subject, text] of expected) {
      const mail = render(name, {} as never);
      assert.deepEqual([mail.subject, mail.text], [subject, text], name);
      assert.ok(!mail.html.includes("<a "), `${name}: no link`);
      assert.equal(mail.html.match(/<p>/g)?.length, 2, `${name}: two paragraphs`);
    }
  });

  test("the email change: the new address in the text, the cancel link for the old address's owner", () => {
    const requested = render("email_change_requested", { newEmail: "new@example.com", cancelLink: LINK });
    assert.equal(requested.subject, "Your email address is about to change");
    assert.equal(
      requested.text,
      "A change of your account's email address to new@example.com was requested. It happens once the new address is confirmed.\n\n" +
        `${LINK}\n\nIf this was you, there is nothing to do.\n`,
    );
    assert.ok(requested.html.includes(`<p><a href="${LINK}">This was not me: cancel the change and sign out everywhere</a></p>`));
    const changed = render("email_changed", { newEmail: "new@example.com" });
    assert.equal(changed.subject, "Your email address was changed");
    assert.equal(
      changed.text,
      "Your account's email address is now new@example.com, and every session of it was signed out.\n\nIf this was not you, contact the service's administrator.\n",
    );
  });

  test("the generic notice: its subject and paragraphs, with or without a link", () => {
    assert.deepEqual(render("notice", { subject: "Hello", paragraphs: ["One.", "Two."] }), {
      subject: "Hello",
      text: "One.\n\nTwo.\n",
      html: html("<p>One.</p>", "<p>Two.</p>"),
    });
    assert.deepEqual(render("notice", { subject: "Hi", paragraphs: ["One."], link: { label: "Go", url: LINK } }), {
      subject: "Hi",
      text: `One.\n\n${LINK}\n`,
      html: html("<p>One.</p>", `<p><a href="${LINK}">Go</a></p>`),
    });
    assert.equal(Object.hasOwn(TEMPLATES.notice({ subject: "s", paragraphs: [] }), "link"), false);
  });

  test("the HTML part escapes & < > \" ' in paragraphs, the link and its label; the plain text keeps them", () => {
    const nasty = `<script>alert("x")</script> & 'quoted'`;
    const url = `https://x.example/?a=1&b="><img src=x onerror=alert(1)>`;
    const mail = render("notice", { subject: "s", paragraphs: [nasty], link: { label: nasty, url } });
    const escaped = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;quoted&#39;";
    assert.equal(
      mail.html,
      html(
        `<p>${escaped}</p>`,
        `<p><a href="https://x.example/?a=1&#38;b=&#34;&#62;&#60;img src=x onerror=alert(1)&#62;">${escaped}</a></p>`,
      ),
    );
    assert.equal(mail.text, `${nasty}\n\n${url}\n`);
    // A new address typed by a user is escaped too.
    assert.ok(render("email_changed", { newEmail: "<b>@x" }).html.includes("&#60;b&#62;@x"));
  });

  test("a subject never carries a line break (a header injection): each run of CR and LF becomes one space", () => {
    const subject = "Hello\r\nBcc: victim@example.com\n\n\rX\rY";
    assert.equal(render("notice", { subject, paragraphs: [] }).subject, "Hello Bcc: victim@example.com X Y");
  });
});

describe("isTemplateName", () => {
  test("the templates' own names only: nothing inherited, nothing that is not a string", () => {
    for (const name of Object.keys(TEMPLATES)) assert.equal(isTemplateName(name), true, name);
    assert.equal(Object.keys(TEMPLATES).length, 8);
    for (const name of [
      "toString",
      "constructor",
      "__proto__",
      "hasOwnProperty",
      "",
      "Notice",
      "verify-email",
      ["notice"],
      { toString: () => "notice" },
      undefined,
      null,
      1,
      {},
    ]) {
      assert.equal(isTemplateName(name), false, String(name));
    }
  });
});
