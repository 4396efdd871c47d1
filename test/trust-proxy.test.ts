import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, uniqueEmail, type TestServer } from "./support/server.js";

// TOKENVER_TRUST_PROXY=true trusts one hop: the address our proxy appended. A client that writes
// its own X-Forwarded-For entries cannot pick the address its failures are counted against.
describe("trustProxy: true trusts only the nearest proxy", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ trustProxy: true, rateLimit: { addressFailures: 2, accountFailures: 100 } });
  });
  after(() => server.close());

  const failWith = (forwarded: string) =>
    server.api.request("POST", "/login", {
      body: { email: uniqueEmail(), password: "not the password at all" },
      headers: { "x-forwarded-for": forwarded },
    });

  test("forged leading entries do not give a fresh address", async () => {
    assert.equal((await failWith("6.6.6.6, 10.0.0.7")).status, 401);
    assert.equal((await failWith("5.5.5.5, 10.0.0.7")).status, 401);
    const third = await failWith("4.4.4.4, 10.0.0.7");
    assert.equal(third.status, 429, "all three came from 10.0.0.7, as the proxy said");
    assert.equal(third.body.code, "rate_limited");
    assert.equal((await failWith("10.0.0.8")).status, 401, "another client behind the proxy is unaffected");
  });
});
