// What the key ring (src/core/keys/key-ring.ts `#load`) signs with is the key stored in the
// database, checked from outside the ring: the token's signature verified with node:crypto against
// the row itself (the server secret; a generated HS256 key's 256 bits, unsealed with the wrapping
// key and base64url-decoded; an asymmetric key's public half, derived from the unsealed private
// key). So the ring cannot drift to some other encoding of the same text (the UTF-8 bytes of the
// base64url, say) that every node would share and no test of tokenver against itself would see.
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, createPublicKey, verify } from "node:crypto";
import { afterEach, beforeEach, describe, test } from "node:test";
import { WRAPPING_KEY_LABEL } from "../../../../src/core/keys/key-ring.js";
import { rotateKey } from "../../../../src/core/keys/rotate-key.js";
import { open } from "../../../../src/core/mail/seal.js";
import { secretKidOf } from "../../../../src/core/tokens/access-token.js";
import { deriveKey } from "../../../../src/lib/derive-key.js";
import { keysWorld, kidOf, SECRET, T0, type KeysWorld } from "./keys-world.js";

let world: KeysWorld;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
});
afterEach(() => world.close());

/** The signing input and signature of a compact JWS. */
function parts(token: string): { input: Buffer; signature: Buffer; alg: string } {
  const [header, payload, signature] = token.split(".");
  const alg = JSON.parse(Buffer.from(header!, "base64url").toString("utf8")).alg as string;
  return { input: Buffer.from(`${header}.${payload}`, "ascii"), signature: Buffer.from(signature!, "base64url"), alg };
}

/** The stored key text of `kid`, unsealed as a node unseals it (the wrapping key derived from the secret). */
async function unsealed(kid: string): Promise<string> {
  const row = (await world.rows()).find((r) => r.kid === kid)!;
  assert.notEqual(row.private_key, null, `${kid} has a sealed private key`);
  return open(deriveKey(SECRET, WRAPPING_KEY_LABEL), kid, row.private_key!);
}

const hmac = (key: Buffer | string, input: Buffer) => createHmac("sha256", key).update(input).digest();

describe("the key a token is signed with is the stored one", () => {
  test("HS256 at the first start: the server secret itself, under the secret's kid", async () => {
    const node = await world.open();
    const token = node.sign();
    assert.equal(kidOf(token), secretKidOf(SECRET));
    const { input, signature, alg } = parts(token);
    assert.equal(alg, "HS256");
    assert.deepEqual(signature, hmac(SECRET, input));
  });

  test("a generated HS256 key: its 256 bits, the base64url of the stored text decoded", async () => {
    const node = await world.open();
    world.time.ms += 1000;
    const kid = (await rotateKey(node.keys, { now: true }))!.kid;
    const token = node.sign();
    assert.equal(kidOf(token), kid);
    const bits = Buffer.from(await unsealed(kid), "base64url");
    assert.equal(bits.length, 32);
    const { input, signature } = parts(token);
    assert.deepEqual(signature, hmac(bits, input));
    // Another node of the same database signs with the same bits.
    const other = await world.open();
    const again = parts(other.sign());
    assert.deepEqual(again.signature, hmac(bits, again.input));
  });

  for (const alg of ["EdDSA", "ES256"] as const) {
    test(`${alg}: verifies with the public half of the stored private key, and with the published JWK`, async () => {
      const node = await world.open({ alg });
      const kid = node.started!.kid;
      const token = node.sign();
      assert.equal(kidOf(token), kid);
      const privateKey = createPrivateKey(await unsealed(kid));
      const { input, signature } = parts(token);
      const options =
        alg === "ES256" ? { key: createPublicKey(privateKey), dsaEncoding: "ieee-p1363" as const } : createPublicKey(privateKey);
      assert.ok(verify(alg === "EdDSA" ? null : "sha256", input, options, signature));
      const published = node.ring.jwks().keys.find((k) => k.kid === kid)!;
      const fromJwks = createPublicKey({ key: published, format: "jwk" });
      assert.ok(
        verify(
          alg === "EdDSA" ? null : "sha256",
          input,
          alg === "ES256" ? { key: fromJwks, dsaEncoding: "ieee-p1363" } : fromJwks,
          signature,
        ),
      );
    });
  }
});
