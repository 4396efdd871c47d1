import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, TokenverError } from "../../src/client/index.js";
import { enrolled, startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { totpAt } from "../support/totp.js";

// The client's sign-in with the second factor (docs/api.md section 9): mfa_required, then a code.
describe("tokenver/client: sign-in with a second factor", () => {
  let world: MfaWorld;

  before(async () => {
    world = await startMfaWorld("sqlite");
  });
  after(() => world.close());

  test("signIn resolves to mfa_required; a wrong code rejects with code_invalid, the right one signs in", async () => {
    const user = await enrolled(world);
    world.advance(30_000); // the enrolment used this step: the sign-in needs the next one
    const client = createClient({ baseUrl: world.server.url, mode: "bearer" });
    const result = await client.signIn({ email: user.email, password: user.password });
    assert.equal(result.status, "mfa_required");
    if (result.status !== "mfa_required") return;
    assert.equal(typeof result.mfaToken, "string");
    await assert.rejects(
      result.submitCode("000000"),
      (error: unknown) => error instanceof TokenverError && error.code === "code_invalid" && error.status === 401,
    );
    const done = await result.submitCode(totpAt(user.secret, world.now()));
    assert.equal(done.status, "signed_in");
    const profile = await client.getUser();
    assert.equal(profile.id, user.user.id);
    assert.equal(profile.mfa_enabled, true);
  });

  test("a recovery code completes the sign-in too", async () => {
    const user = await enrolled(world);
    const client = createClient({ baseUrl: world.server.url, mode: "bearer" });
    const result = await client.signIn({ email: user.email, password: user.password });
    assert.equal(result.status, "mfa_required");
    if (result.status !== "mfa_required") return;
    assert.equal((await result.submitCode(user.recoveryCodes[0]!)).status, "signed_in");
  });
});
