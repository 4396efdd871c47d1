// Unit tests for src/store/redis/invalidation.ts (the cross-node invalidation protocol) in one
// process, on a real Redis (TOKENVER_TEST_REDIS_URL): nodes as RedisInvalidation objects with a
// recording target. A caching node registers (a member of the set, a lease), a broadcast reaches
// every other caching node's target and waits for its acknowledgement, the sender's own node is
// not told, a node that leaves no longer holds anything up, and malformed messages are ignored.
// The slow half (several processes, Redis faults, leases running out) is test/scale-out/.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { RedisInvalidation } from "../../../../src/store/redis/invalidation.js";
import type { RevocationChange } from "../../../../src/store/revocation/state.js";
import { redisTestPrefix, REDIS_URL } from "../../../support/databases.js";

const LEASE_SECONDS = 2;

class Recorder {
  readonly changes: RevocationChange[] = [];
  clears = 0;
  invalidate(change: RevocationChange): void {
    this.changes.push(change);
  }
  clear(): void {
    this.clears++;
  }
}

describe("RedisInvalidation", { skip: REDIS_URL ? false : "set TOKENVER_TEST_REDIS_URL" }, () => {
  const prefix = redisTestPrefix();
  const connections: Redis[] = [];
  const nodes: RedisInvalidation[] = [];
  let raw: Redis;

  async function node(target: Recorder | undefined): Promise<RedisInvalidation> {
    const redis = new Redis(REDIS_URL!);
    connections.push(redis);
    const invalidation = new RedisInvalidation({ redis, prefix, leaseSeconds: LEASE_SECONDS, ...(target ? { target } : {}) });
    nodes.push(invalidation);
    await invalidation.start();
    return invalidation;
  }

  const members = async () => (await raw.zrange(`${prefix}nodes`, 0, -1)).sort();

  before(async () => {
    raw = new Redis(REDIS_URL!);
  });

  after(async () => {
    for (const n of nodes) await n.close();
    for (const c of connections) c.disconnect();
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
  });

  test("a caching node registers a member with a lease in Redis time, clears its cache, and may answer from memory", async () => {
    const target = new Recorder();
    const startedAt = performance.now();
    const wallAt = Date.now();
    const a = await node(target);
    assert.equal(target.clears, 1, "joined with an empty cache");
    const registered = await raw.zrange(`${prefix}nodes`, 0, -1, "WITHSCORES");
    assert.equal(registered.length, 2);
    assert.match(registered[0]!, /^[A-Za-z0-9_-]{16}:1$/, "<node>:<generation 1>");
    const [seconds, micros] = await raw.time();
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const expiry = Number(registered[1]);
    assert.ok(
      expiry > redisNow + LEASE_SECONDS * 1000 - 1000 && expiry <= redisNow + LEASE_SECONDS * 1000,
      `scored by Redis time + lease: ${expiry - redisNow}`,
    );
    // Valid until the send time + lease - a fifth of the lease, on both clocks.
    const margin = (LEASE_SECONDS * 1000) / 5;
    assert.ok(a.validUntil > startedAt + LEASE_SECONDS * 1000 - margin - 1, `monotonic: ${a.validUntil - startedAt}`);
    assert.ok(a.validUntil <= performance.now() + LEASE_SECONDS * 1000 - margin);
    assert.ok(a.wallValidUntil >= wallAt + LEASE_SECONDS * 1000 - margin);
    assert.ok(a.wallValidUntil <= Date.now() + LEASE_SECONDS * 1000 - margin);
    await a.close();
  });

  test("a node without a cache registers nothing and never answers from memory", async () => {
    const before = await members();
    const sender = await node(undefined);
    assert.deepEqual(await members(), before);
    assert.equal(sender.validUntil, 0);
    assert.equal(sender.wallValidUntil, 0);
    await sender.close();
  });

  test("a broadcast reaches every other caching node, waits for their acknowledgements, and not the sender's own", async () => {
    const targetA = new Recorder();
    const targetB = new Recorder();
    const a = await node(targetA);
    const b = await node(targetB);
    const sender = await node(undefined);
    await sender.broadcast({ userId: "u1", sessionIds: ["s1", "s2"] }, performance.now() + 5000);
    assert.deepEqual(
      targetA.changes.map((c) => ({ userId: c.userId, sessionIds: c.sessionIds })),
      [{ userId: "u1", sessionIds: ["s1", "s2"] }],
    );
    assert.deepEqual(
      targetB.changes.map((c) => ({ userId: c.userId, sessionIds: c.sessionIds })),
      [{ userId: "u1", sessionIds: ["s1", "s2"] }],
    );
    // A user-wide change (no session list) travels as such.
    await a.broadcast({ userId: "u2" }, performance.now() + 5000);
    assert.equal(targetA.changes.length, 1, "a node's own broadcast is not handed to its own cache");
    assert.equal(targetB.changes.length, 2);
    assert.equal(targetB.changes[1]!.userId, "u2");
    assert.equal(targetB.changes[1]!.sessionIds, undefined);
    await Promise.all([a.close(), b.close(), sender.close()]);
  });

  test("a broadcast waits for a node that has not acknowledged yet, and fails at the deadline", async () => {
    const target = new Recorder();
    const a = await node(target);
    const sender = await node(undefined);
    // A member that holds a lease but never acknowledges (a node that stalls).
    await raw.zadd(`${prefix}nodes`, String(Date.now() + 60_000), "silent:1");
    const started = performance.now();
    await assert.rejects(sender.broadcast({ userId: "u3", sessionIds: ["s"] }, performance.now() + 300), /in time/);
    const took = performance.now() - started;
    assert.ok(took >= 250, `waited for the silent member: ${took} ms`);
    assert.equal(target.changes.length, 1, "the live node got it all the same");
    // Once the silent member is gone, broadcasts go through again.
    await raw.zrem(`${prefix}nodes`, "silent:1");
    await sender.broadcast({ userId: "u3", sessionIds: ["s"] }, performance.now() + 5000);
    await Promise.all([a.close(), sender.close()]);
  });

  test("a member whose lease ran out in Redis is not waited for", async () => {
    const sender = await node(undefined);
    // Expired a second ago, still in the set: the broadcast's read skips it.
    await raw.zadd(`${prefix}nodes`, String(Date.now() - 1000), "expired:1");
    const started = performance.now();
    await sender.broadcast({ userId: "u4" }, performance.now() + 1000);
    assert.ok(performance.now() - started < 900, "did not wait for the expired member");
    await raw.zrem(`${prefix}nodes`, "expired:1");
    await sender.close();
  });

  test("closing leaves the set at once and stops answering from memory", async () => {
    const target = new Recorder();
    const a = await node(target);
    const before = await members();
    assert.equal(before.length, 1);
    assert.ok(a.validUntil > 0);
    await a.close();
    assert.deepEqual(await members(), []);
    assert.equal(a.validUntil, 0);
    assert.equal(a.wallValidUntil, 0);
  });

  test("a broadcast from a node whose channel is closed fails (503 upstream), never goes ahead", async () => {
    const sender = await node(undefined);
    await sender.close();
    // The subscriber connection's close event marks the channel lost.
    await sleep(200);
    await assert.rejects(sender.broadcast({ userId: "u5" }, performance.now() + 1000), /not subscribed|closed/);
  });

  test("heartbeats renew the lease: a node stays registered and valid beyond one lease", async () => {
    const target = new Recorder();
    const a = await node(target);
    const first = a.validUntil;
    await sleep(LEASE_SECONDS * 1000 + 500);
    assert.ok(a.validUntil > first, "renewed");
    assert.ok(a.validUntil > performance.now(), "still valid");
    assert.equal((await members()).length, 1);
    assert.equal(target.clears, 1, "no new generation: the renewals found the registration");
    await a.close();
  });

  test("a node whose registration was removed from Redis starts again as a new generation with an empty cache", async () => {
    const target = new Recorder();
    const a = await node(target);
    const [member] = await members();
    assert.match(member!, /:1$/);
    await raw.del(`${prefix}nodes`);
    // The next renewal (every fifth of a lease) finds it gone.
    const deadline = Date.now() + LEASE_SECONDS * 1000;
    while (target.clears < 2 && Date.now() < deadline) await sleep(50);
    assert.equal(target.clears, 2);
    const [again] = await members();
    assert.equal(again, member!.replace(/:1$/, ":2"));
    await a.close();
  });

  test("malformed invalidations are ignored; a well-formed one from another node is applied and acknowledged", async () => {
    const target = new Recorder();
    const a = await node(target);
    const channel = `${prefix}inv`;
    for (const message of [
      "not json",
      "null",
      JSON.stringify({ o: "x", u: "u" }),
      JSON.stringify({ i: 1, o: "x", u: "u" }),
      JSON.stringify({ i: "1", u: "u" }),
      JSON.stringify({ i: "1", o: "x" }),
      JSON.stringify({ i: "1", o: "x", u: "u", s: "s1" }),
      JSON.stringify({ i: "1", o: "x", u: "u", s: [1] }),
    ]) {
      await raw.publish(channel, message);
    }
    const acks = new Redis(REDIS_URL!);
    connections.push(acks);
    const heard: string[] = [];
    acks.on("message", (_channel: string, message: string) => heard.push(message));
    await acks.subscribe(`${prefix}node:other`);
    await raw.publish(channel, JSON.stringify({ i: "other.1", o: "other", u: "u9", s: ["s9"] }));
    await raw.publish(channel, JSON.stringify({ i: "other.2", o: "other", u: "u9", s: null }));
    const deadline = Date.now() + 2000;
    while (heard.length < 2 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(
      target.changes.map((c) => ({ userId: c.userId, sessionIds: c.sessionIds })),
      [
        { userId: "u9", sessionIds: ["s9"] },
        { userId: "u9", sessionIds: undefined },
      ],
    );
    const [member] = await members();
    assert.deepEqual(heard, [`a other.1 ${member}`, `a other.2 ${member}`]);
    await a.close();
  });

  test("the longest broadcast: a lease, the grace, a poll and a command timeout", async () => {
    const sender = await node(undefined);
    assert.equal(sender.longestBroadcastMs, LEASE_SECONDS * 1000 + 2000 + 50 + 1000);
    await sender.close();
  });
});
