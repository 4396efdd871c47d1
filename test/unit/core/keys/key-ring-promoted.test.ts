// A key the ring already holds whose activation moves (src/core/keys/key-ring.ts `#install`: a
// known key is kept as it is only while its activate_at and retire_after are unchanged). Revoking
// the signer while a next key waits brings that key's activation forward to now; a ring that kept
// the key's old activation would sign with the older, retiring key until the old activation came.
// On the node that revoked and on a node that reads the change later.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import { revokeKey } from "../../../../src/core/keys/revoke-key.js";
import { rotateKey } from "../../../../src/core/keys/rotate-key.js";
import { keysWorld, kidOf, PUBLISH_DELAY, T0, type KeysNode, type KeysWorld } from "./keys-world.js";

const DELAY_MS = PUBLISH_DELAY * 1000;

let world: KeysWorld;
let node: KeysNode;
let other: KeysNode;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
  node = await world.open({ alg: "EdDSA" });
  other = await world.open({ alg: "EdDSA" });
  for (const n of [node, other]) {
    n.keys.announce = async () => {};
    n.keys.broadcastRevoked = async () => {};
  }
});
afterEach(() => world.close());

test("the signer revoked while a next key waits and an older key retires: the next key signs at once, not the older one", async () => {
  const retiring = node.started!.kid;
  world.time.ms = T0 + 1000;
  const signer = (await rotateKey(node.keys, { now: true }))!.kid;
  world.time.ms = T0 + 2000;
  const next = (await rotateKey(node.keys))!.kid;
  await other.ring.reload();
  for (const n of [node, other]) {
    assert.equal(n.ring.signing().kid, signer);
    assert.equal(n.ring.find(next)!.activateAt, T0 + 2000 + DELAY_MS);
    assert.equal(n.ring.find(retiring)?.kid, retiring);
  }

  world.time.ms = T0 + 3000;
  assert.deepEqual(await revokeKey(node.keys, signer), { signer: next });
  assert.equal((await world.rows()).find((r) => r.kid === next)!.activate_at, isoAt(T0 + 3000));
  await other.ring.reload();
  for (const n of [node, other]) {
    assert.equal(n.ring.find(next)!.activateAt, T0 + 3000);
    assert.equal(n.ring.signing().kid, next);
    assert.equal(n.ring.stateOf(n.ring.find(next)!), "current");
    assert.equal(n.ring.stateOf(n.ring.find(retiring)!), "retiring");
    assert.equal(kidOf(n.sign()), next);
  }
});
