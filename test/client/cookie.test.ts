import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, type AuthChange } from "../../src/client/index.js";
import { freePort } from "../support/process.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/**
 * Node's fetch keeps no cookies, so these tests give the client a small cookie jar that behaves as
 * a browser on the API's origin would (Path-scoped, Max-Age=0 deletes, Origin on every request).
 * The real browser is test/account-page; this file checks the client's own logic in cookie mode.
 */
function browserLikeFetch(origin: string) {
  const jar = new Map<string, { value: string; path: string }>();
  const sent: { path: string; method: string; csrf: string | null }[] = [];
  const fetchImpl: typeof fetch = async (input, init = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const headers = new Headers(init.headers);
    headers.set("origin", origin);
    const cookie = [...jar].filter(([, c]) => url.pathname.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`);
    if (cookie.length > 0 && init.credentials === "include") headers.set("cookie", cookie.join("; "));
    sent.push({ path: url.pathname, method: init.method ?? "GET", csrf: headers.get("x-csrf-token") });
    const response = await fetch(url, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((p) => p.trim());
      const [name, ...value] = pair!.split("=");
      const attribute = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split("=")[1];
      if (attribute("max-age") === "0") jar.delete(name!);
      else jar.set(name!, { value: value.join("="), path: attribute("path") ?? "/" });
    }
    return response;
  };
  return { jar, sent, fetch: fetchImpl };
}

describe("tokenver/client in cookie mode (a browser-like cookie jar)", () => {
  let server: TestServer;
  let skewMs = 0;

  before(async () => {
    const port = await freePort();
    server = await startServer({ port, publicUrl: `http://127.0.0.1:${port}`, clock: () => Date.now() + skewMs });
  });
  after(() => server.close());

  function newClient(browser = browserLikeFetch(server.url)) {
    const changes: AuthChange[] = [];
    const client = createClient({ baseUrl: server.url, mode: "cookie", fetch: browser.fetch });
    client.onChange((change) => changes.push(change));
    return { client, changes, browser };
  }

  test("sign-up keeps tokens in cookies only, and unsafe requests carry the CSRF token", async () => {
    const { client, changes, browser } = newClient();
    const { signedIn, user } = await client.signUp({ email: uniqueEmail(), password: PASSWORD });
    assert.equal(signedIn, true);
    assert.deepEqual(changes, [{ type: "signedIn", user }]);
    assert.deepEqual([...browser.jar.keys()].sort(), ["__Host-tokenver-access", "__Host-tokenver-csrf", "__Secure-tokenver-refresh"]);
    assert.equal((await client.getUser()).id, user.id);
    const renamed = await client.fetch("/profile", {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "ada" }),
    });
    assert.equal(renamed.status, 200, await renamed.clone().text());
    const patch = browser.sent.find((s) => s.method === "PATCH");
    assert.equal(patch?.csrf, browser.jar.get("__Host-tokenver-csrf")?.value);
  });

  test("concurrent requests with an expired access token share one refresh from the refresh cookie", async () => {
    const { client, browser } = newClient();
    await client.signUp({ email: uniqueEmail(), password: PASSWORD });
    skewMs = 3_600_000;
    try {
      browser.sent.length = 0;
      const statuses = await Promise.all([client.fetch("/profile"), client.fetch("/sessions")].map(async (r) => (await r).status));
      assert.deepEqual(statuses, [200, 200]);
      assert.equal(browser.sent.filter((s) => s.path === "/token/refresh").length, 1);
    } finally {
      skewMs = 0;
    }
  });

  test("a client that lost its CSRF token (a reload) gets one back from a refresh before an unsafe request", async () => {
    const first = newClient();
    await first.client.signUp({ email: uniqueEmail(), password: PASSWORD });
    // The same browser, a new page: the cookies are there, nothing is in memory, and (another host
    // than the API's) the CSRF cookie cannot be read by script.
    const { client, browser } = newClient(first.browser);
    browser.sent.length = 0;
    const response = await client.fetch("/logout", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(response.status, 204, await response.clone().text());
    assert.deepEqual(
      browser.sent.map((s) => s.path),
      ["/token/refresh", "/logout"],
    );
  });

  test("signOut expires the cookies and reports the sign-out", async () => {
    const { client, changes, browser } = newClient();
    await client.signUp({ email: uniqueEmail(), password: PASSWORD });
    await client.signOut();
    assert.deepEqual([...browser.jar.keys()], []);
    assert.deepEqual(changes.at(-1), { type: "signedOut", reason: "logout" });
    await assert.rejects(client.getUser(), { code: "token_missing" });
  });
});
