import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { importPKCS8, SignJWT } from "jose";
import { dialects } from "../support/databases.js";
import { startServer, type TestServer } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/api.md section 7, rotation: a rotated key is published (JWKS) before it signs, signs after
// the publish delay, earlier keys verify (and stay published) until their retire_after; --now
// skips the delay; revoking a key makes its tokens token_invalid at once, cached or not.

const kidOf = (token: string) => decodePart(token, 0).kid as string;

for (const dialect of dialects()) {
  describe(`key rotation (${dialect})`, () => {
    let server: TestServer;
    let nowMs = Date.now();
    const clock = () => nowMs;
    const jwksKids = async () =>
      ((await server.api.get("/.well-known/jwks.json")).body.keys as Array<{ kid: string }>).map((k) => k.kid).sort();
    const status = async (token: string) => {
      const response = await server.api.get("/profile", token);
      return response.status === 200 ? 200 : `${response.status} ${response.body?.code}`;
    };

    before(async () => {
      server = await startServer({ dialect, signingAlg: "ES256", keyPublishDelay: 600, clock });
    });
    after(() => server.close());

    test("rotate publishes first, signs after the delay; the old key verifies until it retires", async () => {
      const first = await server.api.register();
      const k1 = kidOf(first.access);
      assert.deepEqual(await jwksKids(), [k1]);
      assert.equal(await status(first.access), 200);

      const rotated = await server.auth.rotateKey({ actor: "cli" });
      const k2 = rotated.kid;
      assert.notEqual(k2, k1);
      // Published at once, not signing yet.
      assert.deepEqual(await jwksKids(), [k1, k2].sort());
      assert.equal(kidOf((await server.api.login(first.email, first.password)).access), k1);
      const states = Object.fromEntries((await server.auth.listKeys()).map((k) => [k.kid, k.state]));
      assert.deepEqual(states, { [k1]: "current", [k2]: "next" });
      // A second rotation while one waits is refused.
      await assert.rejects(server.auth.rotateKey(), (e: { code?: string }) => e.code === "forbidden");

      nowMs += 601_000;
      const second = await server.api.login(first.email, first.password);
      assert.equal(kidOf(second.access), k2);
      // The first key's tokens still verify while live, and the key stays published.
      const live = await server.api.login(first.email, first.password);
      assert.equal(await status(second.access), 200);
      assert.deepEqual(await jwksKids(), [k1, k2].sort());
      const listed = await server.auth.listKeys();
      const old = listed.find((k) => k.kid === k1)!;
      assert.equal(old.state, "retiring");
      assert.ok(old.retireAfter !== null && Date.parse(old.retireAfter) > nowMs);
      assert.equal(listed.find((k) => k.kid === k2)!.state, "current");
      void live;

      // After its retire_after, the old key is gone from the JWKS.
      nowMs = Date.parse(old.retireAfter!) + 1000;
      await server.auth.listKeys(); // reloads, as every node's poll does
      assert.deepEqual(await jwksKids(), [k2]);
    });

    test("rotate --now signs at once; revoke makes the key's tokens token_invalid at once (cached too)", async () => {
      const user = await server.api.register();
      const before = user.access;
      assert.equal(await status(before), 200); // now in the verified-token cache
      const rotated = await server.auth.rotateKey({ now: true, actor: "cli" });
      const after = (await server.api.login(user.email, user.password)).access;
      assert.equal(kidOf(after), rotated.kid);
      assert.equal(await status(before), 200);

      await server.auth.revokeKey(kidOf(before), { actor: "cli" });
      assert.equal(await status(before), "401 token_invalid");
      assert.equal(await status(after), 200);
      assert.ok(!(await jwksKids()).includes(kidOf(before)));

      // Revoking the signer: a new key signs at once, the old one's tokens die.
      const { signer } = await server.auth.revokeKey(rotated.kid, { actor: "cli" });
      assert.notEqual(signer, rotated.kid);
      assert.equal(await status(after), "401 token_invalid");
      const fresh = (await server.api.login(user.email, user.password)).access;
      assert.equal(kidOf(fresh), signer);
      assert.equal(await status(fresh), 200);
      await assert.rejects(server.auth.revokeKey("no-such-kid"), (e: { code?: string }) => e.code === "not_found");

      await server.auth.flushEvents();
      const events = await server.auth.listEvents({ type: "key.rotated" });
      assert.ok(events.events.length >= 3, "key.rotated recorded");
      assert.ok(events.events.every((e) => e.actor === "cli" || e.actor === "system"));
    });

    test("at its retire_after a key stops verifying and leaves the JWKS, without any reload", async () => {
      // A key whose private half we hold, as an attacker holding a compromised key would.
      const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      const privateKey = await importPKCS8(pem, "ES256");
      const own = await startServer({ dialect, signingAlg: "ES256", signingKey: pem, keyPublishDelay: 600, clock });
      const ownKids = async () =>
        ((await own.api.get("/.well-known/jwks.json")).body.keys as Array<{ kid: string }>).map((k) => k.kid).sort();
      const ownStatus = async (token: string) => {
        const response = await own.api.get("/profile", token);
        return response.status === 200 ? 200 : `${response.status} ${response.body?.code}`;
      };
      // A token with fresh claims, signed with the compromised key under its kid.
      const forged = (token: string, kid: string) =>
        new SignJWT(decodePart(token, 1)).setProtectedHeader({ ...decodePart(token, 0), alg: "ES256", kid }).sign(privateKey);
      try {
        const user = await own.api.register();
        const k1 = kidOf(user.access);
        nowMs += 1000; // the injected clock stands still: the new key must activate after the first
        const rotated = await own.auth.rotateKey({ now: true, actor: "cli" });
        const retireAfter = (await own.auth.listKeys()).find((k) => k.kid === k1)!.retireAfter!;
        assert.ok(retireAfter !== null);
        const fresh = (await own.api.login(user.email, user.password)).access;
        assert.equal(kidOf(fresh), rotated.kid);
        assert.equal(await ownStatus(await forged(fresh, k1)), 200, "the old key verifies until its retire_after");
        assert.deepEqual(await ownKids(), [k1, rotated.kid].sort());

        // Past retire_after: no reload (the key set's version has not changed), yet the key is gone.
        nowMs = Date.parse(retireAfter) + 1000;
        const later = (await own.api.login(user.email, user.password)).access;
        assert.equal(await ownStatus(later), 200);
        assert.equal(await ownStatus(await forged(later, k1)), "401 token_invalid");
        assert.deepEqual(await ownKids(), [rotated.kid]);
      } finally {
        await own.close();
      }
    });
  });
}
