// The poll of the key ring (src/core/keys/key-ring.ts, startPolling): every KEYS_POLL_MS a node
// asks whether the keys changed and reads them if they did, then runs its tick (the scheduled
// rotation); one poll at a time; a database that does not answer is one warning per outage, and the
// poll goes on; stop() ends it and releases what was registered. Real timers (one second a poll):
// each test waits for what it expects, with a generous bound.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { rotateKey } from "../../../../src/core/keys/rotate-key.js";
import { eventually, keysWorld, T0, type KeysWorld } from "./keys-world.js";

const WARNING = "signing keys: the database did not answer; will retry every second";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let world: KeysWorld;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
});
afterEach(() => world.close());

test("a change another node made is read by the poll, then the tick runs", async () => {
  const node = await world.open({ alg: "EdDSA" });
  const other = await world.open({ alg: "EdDSA" });
  let ticks = 0;
  node.ring.startPolling(async () => {
    ticks += 1;
  });
  world.time.ms += 1000;
  const rotated = (await rotateKey(other.keys, { now: true }))!;
  await eventually(() => node.ring.signing().kid === rotated.kid, "the poll reads the new signer");
  await eventually(() => ticks >= 2, "the tick runs after each poll");
});

test("a poll without a tick (TOKENVER_KEY_ROTATION off) reads the changes and warns of nothing", async () => {
  const node = await world.open({ alg: "EdDSA" });
  const other = await world.open({ alg: "EdDSA" });
  node.ring.startPolling();
  world.time.ms += 1000;
  const first = (await rotateKey(other.keys, { now: true }))!;
  await eventually(() => node.ring.signing().kid === first.kid, "the poll reads the new signer");
  world.time.ms += 1000;
  const second = (await rotateKey(other.keys, { now: true }))!;
  await eventually(() => node.ring.signing().kid === second.kid, "and goes on");
  assert.deepEqual(node.warnings, []);
});

test("one poll at a time: a slow tick holds the next poll back", async () => {
  const node = await world.open();
  let running = 0;
  let most = 0;
  let ticks = 0;
  node.ring.startPolling(async () => {
    running += 1;
    ticks += 1;
    most = Math.max(most, running);
    await sleep(2300);
    running -= 1;
  });
  await eventually(() => ticks >= 2, "a second poll once the first has ended", 12_000);
  assert.equal(most, 1);
});

test("a database that does not answer: one warning per outage, the poll goes on, a failing tick counts too", async () => {
  const node = await world.open();
  let ticks = 0;
  let tickFails = false;
  node.ring.startPolling(async () => {
    ticks += 1;
    if (tickFails) throw new Error("the scheduled rotation failed (test)");
  });
  await eventually(() => ticks >= 1, "a first poll");
  node.outage.down = true;
  await eventually(() => node.warnings.length === 1, "a warning");
  assert.deepEqual(node.warnings, [WARNING]);
  const tried = node.outage.queries;
  await eventually(() => node.outage.queries >= tried + 2, "two more polls, failing");
  assert.equal(node.warnings.length, 1, "once per outage");

  node.outage.down = false;
  const before = ticks;
  await eventually(() => ticks >= before + 2, "polls again");
  assert.equal(node.warnings.length, 1);
  node.outage.down = true;
  await eventually(() => node.warnings.length === 2, "a second outage, a second warning");

  node.outage.down = false;
  const recovered = ticks;
  await eventually(() => ticks >= recovered + 2, "polls again after the second outage");
  tickFails = true;
  await eventually(() => node.warnings.length === 3, "a failing tick is an outage too");
  const failed = ticks;
  await eventually(() => ticks >= failed + 2, "and the poll goes on");
  assert.equal(node.warnings.length, 3);
});

test("stop() ends the poll and releases what was registered, once", async () => {
  const node = await world.open();
  let ticks = 0;
  const released: string[] = [];
  node.ring.onStop(async () => {
    released.push("a");
  });
  node.ring.onStop(async () => {
    released.push("b");
  });
  node.ring.startPolling(async () => {
    ticks += 1;
  });
  await eventually(() => ticks >= 1, "a first poll");
  node.ring.stop();
  assert.deepEqual(released, ["a", "b"]);
  const stopped = ticks;
  await sleep(2500);
  assert.equal(ticks, stopped);
  node.ring.stop();
  assert.deepEqual(released, ["a", "b"]);
});
