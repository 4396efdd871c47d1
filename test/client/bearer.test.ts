import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createClient, TokenverError, type AuthChange } from "../../src/client/index.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/** Every request the client sends, by path: the refresh single-flight is counted with it. */
function recordingFetch() {
  const paths: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    paths.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
    return fetch(input, init);
  };
  return { paths, fetch: fetchImpl };
}

describe("tokenver/client in bearer mode, against a real server", () => {
  let server: TestServer;
  // The server's clock: moved forward to expire access tokens that the client still thinks live.
  let skewMs = 0;

  before(async () => {
    server = await startServer({ clock: () => Date.now() + skewMs });
  });
  after(() => server.close());

  function newClient() {
    const recording = recordingFetch();
    const changes: AuthChange[] = [];
    const client = createClient({ baseUrl: server.url, mode: "bearer", fetch: recording.fetch });
    client.onChange((change) => changes.push(change));
    return { client, changes, paths: recording.paths };
  }

  test("signUp signs in, getUser answers the user, and onChange reports it", async () => {
    const { client, changes } = newClient();
    const email = uniqueEmail();
    const { user, signedIn } = await client.signUp({ email, password: PASSWORD });
    assert.equal(signedIn, true);
    assert.equal(user.email, email);
    assert.deepEqual(changes, [{ type: "signedIn", user }]);
    assert.equal((await client.getUser()).id, user.id);
  });

  test("errors are TokenverErrors carrying the API's code and status", async () => {
    const { client } = newClient();
    const email = uniqueEmail();
    await client.signUp({ email, password: PASSWORD });
    await assert.rejects(client.signIn({ email, password: "not the password at all" }), (error: unknown) => {
      assert.ok(error instanceof TokenverError);
      assert.equal(error.code, "invalid_credentials");
      assert.equal(error.status, 401);
      return true;
    });
    await assert.rejects(client.signUp({ email, password: PASSWORD }), { name: "TokenverError", code: "email_taken", status: 409 });
  });

  test("an access token the server calls expired is refreshed once, and the request sent again", async () => {
    const { client, paths } = newClient();
    await client.signUp({ email: uniqueEmail(), password: PASSWORD });
    skewMs = 3_600_000; // the server is an hour ahead: the access token expired, the refresh token did not
    try {
      paths.length = 0;
      const responses = await Promise.all([client.fetch("/profile"), client.fetch("/sessions"), client.fetch("/profile")]);
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 200],
      );
      assert.equal(paths.filter((p) => p === "/token/refresh").length, 1, `one refresh for three requests: ${paths.join(" ")}`);
    } finally {
      skewMs = 0;
    }
  });

  test("signOut ends every session on the server, and the old access token is refused", async () => {
    const { client, changes } = newClient();
    const email = uniqueEmail();
    await client.signUp({ email, password: PASSWORD });
    const other = newClient();
    await other.client.signIn({ email, password: PASSWORD });
    await client.signOut();
    assert.deepEqual(changes.at(-1), { type: "signedOut", reason: "logout" });
    await assert.rejects(client.getUser(), { code: "token_missing" });
    // The other device's session died with scope "all", and that client says why.
    const response = await other.client.fetch("/profile");
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { code: string }).code, "token_revoked");
    assert.deepEqual(other.changes.at(-1), { type: "signedOut", reason: "revoked" });
  });

  test("signOut({scope: 'session'}) keeps the user's other sessions", async () => {
    const { client } = newClient();
    const email = uniqueEmail();
    await client.signUp({ email, password: PASSWORD });
    const other = newClient();
    await other.client.signIn({ email, password: PASSWORD });
    await client.signOut({ scope: "session" });
    assert.equal((await other.client.getUser()).email, email);
  });

  test("a refused refresh signs the client out with the reason", async () => {
    const { client, changes } = newClient();
    const email = uniqueEmail();
    await client.signUp({ email, password: PASSWORD });
    // Logout everywhere from another device: this client's refresh token now belongs to a revoked session.
    const other = newClient();
    await other.client.signIn({ email, password: PASSWORD });
    await other.client.signOut();
    await assert.rejects(client.refresh(), { code: "token_revoked" });
    assert.deepEqual(changes.at(-1), { type: "signedOut", reason: "revoked" });
  });

  test("signIn resolves to signed_in without a second factor", async () => {
    const { client } = newClient();
    const email = uniqueEmail();
    await client.signUp({ email, password: PASSWORD });
    const result = await client.signIn({ email, password: PASSWORD });
    assert.equal(result.status, "signed_in");
  });

  test("credentials go only to the API's origin and credentialOrigins", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const echo = createServer((req, res) => {
      seen.push(req.headers);
      res.end("{}");
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const other = `http://localhost:${(echo.address() as AddressInfo).port}`;
    try {
      const plain = createClient({ baseUrl: server.url, mode: "bearer" });
      await plain.signUp({ email: uniqueEmail(), password: PASSWORD });
      await plain.fetch(`${other}/x`);
      const trusting = createClient({ baseUrl: server.url, mode: "bearer", credentialOrigins: [other] });
      await trusting.signUp({ email: uniqueEmail(), password: PASSWORD });
      await trusting.fetch(`${other}/x`);
      assert.equal(seen[0]!.authorization, undefined);
      assert.match(seen[1]!.authorization ?? "", /^Bearer /);
    } finally {
      echo.close();
    }
  });

  test("bad options throw a TypeError naming the option", () => {
    assert.throws(() => createClient({ baseUrl: "not a url", mode: "bearer" }), /baseUrl/);
    assert.throws(() => createClient({ baseUrl: "ftp://x", mode: "bearer" }), /baseUrl/);
    assert.throws(() => createClient({ baseUrl: "http://x", mode: "both" as never }), /mode/);
    assert.throws(() => createClient({ baseUrl: "http://x", mode: "cookie", tokenStore: { load: () => null, save() {} } }), /tokenStore/);
  });
});
