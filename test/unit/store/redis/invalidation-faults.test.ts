// Unit tests for src/store/redis/invalidation.ts under faults, on a real Redis (TOKENVER_TEST_REDIS_URL;
// never mocked): the subscriber connection killed (CLIENT KILL ID of that one connection, or its socket
// destroyed while SUBSCRIBE is under way), a SUBSCRIBE refused on reconnect (an ACL user of the test's
// own, `-subscribe`), a subscription that goes silent without closing, a renewal or a registration under
// way when the connection is lost or the node closes (the node's command connection held by a BLPOP, so
// the order is forced, not hoped for), acknowledgements that come early, late, never, or for a finished
// broadcast, a member whose lease runs out or is renewed without acknowledging, messages on the node
// channel that are not heartbeats, signing-key revocations and malformed invalidations. Each test asserts
// what a revocation or a node's cache would see: a broadcast that must fail (503 upstream) or succeed, a
// lease that must be 0, a member that must (not) be counted. Tests run concurrently (their own key
// prefix, connections and ACL user each) so that a Stryker run stays short; waits are bounded polls.
// Longer than 350 lines: 13 scenarios that each force their own order of events; split in two, each file
// would repeat the World helper below and Stryker would pay one more process per mutant.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis, type RedisOptions } from "ioredis";
import { RedisInvalidation, type InvalidationTarget } from "../../../../src/store/redis/invalidation.js";
import type { RevocationChange } from "../../../../src/store/revocation/state.js";
import { redisTestPrefix, REDIS_URL } from "../../../support/databases.js";

class Recorder implements InvalidationTarget {
  readonly changes: RevocationChange[] = [];
  clears = 0;
  /** Called inside clear(), synchronously: what the node does next has not happened yet. */
  onClear: ((clears: number) => void) | undefined;
  invalidate(change: RevocationChange): void {
    this.changes.push(change);
  }
  clear(): void {
    this.clears++;
    this.onClear?.(this.clears);
  }
  users(): string[] {
    return this.changes.map((c) => c.userId);
  }
}

/** A target that drops signing keys, but only when the test says so. */
class KeyRecorder extends Recorder {
  readonly kids: string[] = [];
  #pending: (() => void)[] = [];
  keyRevoked(kid: string): Promise<void> {
    this.kids.push(kid);
    return new Promise((resolve) => this.#pending.push(resolve));
  }
  release(): void {
    for (const resolve of this.#pending.splice(0)) resolve();
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

interface Node {
  inv: RedisInvalidation;
  /** The node's command connection (we may hold it with a BLPOP). */
  redis: Redis;
  /** Its subscriber connection, the real one RedisInvalidation made (named `<name>-sub`). */
  sub: Redis;
  subName: string;
  readies: number;
  /** validUntil at each close of the subscriber connection, before the node hears of it. */
  validAtClose: number[];
}

/** One test's Redis: its own prefix, connections and (when asked) ACL user; `end()` removes them all. */
/** Lets the held command connection go, then waits until the node has been refused twice more (SUBSCRIBE is off). */
async function releaseHold(w: World, a: Node): Promise<void> {
  const closes = a.validAtClose.length;
  await w.admin.lpush(w.hold, "go");
  await a.redis.ping();
  await waitFor("refused rejoins since", () => a.validAtClose.length >= closes + 2);
}

/** Not valid now, nor at any close of its subscriber after the first loss. */
function assertNeverValidSinceLoss(a: Node, why: string): void {
  assert.equal(a.inv.validUntil, 0);
  assert.deepEqual(
    a.validAtClose.slice(1).filter((v) => v !== 0),
    [],
    `never valid after the loss: ${why}`,
  );
}

class World {
  readonly prefix = redisTestPrefix();
  readonly admin = new Redis(REDIS_URL!);
  readonly hold = this.prefix + "hold";
  readonly #nodes: Node[] = [];
  readonly #connections: Redis[] = [this.admin];
  #user: string | undefined;

  get nodesKey(): string {
    return this.prefix + "nodes";
  }

  /** An ACL user allowed everything; `allowSubscribe(false)` then refuses SUBSCRIBE to its connections. */
  async aclUser(): Promise<{ username: string; password: string }> {
    this.#user = `tokenver-test-${randomBytes(6).toString("hex")}`;
    const password = randomBytes(12).toString("hex");
    await this.admin.call("ACL", "SETUSER", this.#user, "reset", "on", `>${password}`, "allkeys", "allchannels", "+@all");
    return { username: this.#user, password };
  }

  async allowSubscribe(allowed: boolean): Promise<void> {
    await this.admin.call("ACL", "SETUSER", this.#user!, allowed ? "+subscribe" : "-subscribe");
  }

  async node(options: { lease: number; target?: InvalidationTarget; user?: { username: string; password: string } }): Promise<Node> {
    const name = `tokenver-test-${randomBytes(6).toString("hex")}`;
    const redis = new Redis(REDIS_URL!, { connectionName: name, ...options.user });
    this.#connections.push(redis);
    let sub: Redis | undefined;
    const duplicate = redis.duplicate.bind(redis);
    // The subscriber is RedisInvalidation's own duplicate, only named so that CLIENT KILL finds it.
    redis.duplicate = (override?: Partial<RedisOptions>) => (sub = duplicate({ ...override, connectionName: `${name}-sub` }));
    const inv = new RedisInvalidation({
      redis,
      prefix: this.prefix,
      leaseSeconds: options.lease,
      ...(options.target ? { target: options.target } : {}),
    });
    const node: Node = { inv, redis, sub: sub!, subName: `${name}-sub`, readies: 0, validAtClose: [] };
    this.#connections.push(node.sub);
    node.sub.on("ready", () => node.readies++);
    // A lease wrongly revived is zeroed again at the next loss: look before the node does.
    node.sub.prependListener("close", () => node.validAtClose.push(inv.validUntil));
    this.#nodes.push(node);
    await inv.start();
    return node;
  }

  async members(): Promise<string[]> {
    return (await this.admin.zrange(this.nodesKey, 0, -1)).sort();
  }

  async redisNow(): Promise<number> {
    const [seconds, micros] = await this.admin.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** A member no node answers for, holding a lease of `ms` from now (Redis time). */
  async fakeMember(member: string, ms: number): Promise<void> {
    await this.admin.zadd(this.nodesKey, String((await this.redisNow()) + ms), member);
  }

  /** Kills the newest connection of that name (CLIENT KILL ID): that connection only. */
  async kill(name: string): Promise<void> {
    let id: string | undefined;
    await waitFor(`a connection named ${name}`, async () => {
      const ids = ((await this.admin.client("LIST")) as string)
        .split("\n")
        .filter((line) => line.includes(` name=${name} `))
        .map((line) => Number(/^id=(\d+)/.exec(line)![1]));
      id = ids.length > 0 ? String(Math.max(...ids)) : undefined;
      return id !== undefined;
    });
    await this.admin.client("KILL", "ID", id!);
  }

  /** A subscriber of its own on `channel`: the messages, in order. */
  async listen(channel: string): Promise<string[]> {
    const listener = new Redis(REDIS_URL!);
    this.#connections.push(listener);
    const heard: string[] = [];
    listener.on("message", (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(channel);
    return heard;
  }

  /** Publishes an invalidation from another node ("probe") and waits until `target` has applied it. */
  async probe(target: Recorder, label: string): Promise<void> {
    await this.admin.publish(this.prefix + "inv", JSON.stringify({ i: `probe.${label}`, o: "probe", u: label, s: null }));
    await waitFor(`the probe ${label} applied`, () => target.users().includes(label));
  }

  async end(): Promise<void> {
    // A test that failed while holding a command connection must not hang its close().
    await this.admin.lpush(this.hold, "go", "go", "go");
    for (const node of this.#nodes) await node.inv.close().catch(() => {});
    for (const connection of this.#connections.slice(1)) connection.disconnect();
    const keys = await this.admin.keys(`${this.prefix}*`);
    if (keys.length > 0) await this.admin.del(...keys);
    if (this.#user !== undefined) await this.admin.call("ACL", "DELUSER", this.#user);
    this.admin.disconnect();
  }
}

const nodeIdOf = (member: string) => member.slice(0, member.lastIndexOf(":"));

describe("RedisInvalidation under faults", { skip: REDIS_URL ? false : "set TOKENVER_TEST_REDIS_URL", concurrency: true }, () => {
  test("subscriber connection killed: the node forgets at once, its broadcasts fail (503), and one new generation replaces the old", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 2, target });
      const [first] = await w.members();
      // A member that never acknowledges keeps a's broadcast waiting until the loss.
      await w.fakeMember("silent:1", 60_000);
      const waiting = a.inv.broadcast({ userId: "u-waiting" }, performance.now() + 10_000);
      waiting.catch(() => {});
      let atLoss: { validUntil: number; broadcast: Promise<void> } | undefined;
      target.onClear = (clears) => {
        // The loss, seen from inside: already not answering from memory, and revoking is refused.
        if (clears === 2)
          atLoss = { validUntil: a.inv.validUntil, broadcast: a.inv.broadcast({ userId: "u-lost" }, performance.now() + 5000) };
        atLoss?.broadcast.catch(() => {});
      };
      await w.kill(a.subName);
      await assert.rejects(waiting, /invalidation channel closed/, "the broadcast under way fails at the loss, not at its deadline");
      assert.ok(atLoss, "the loss cleared the cache");
      assert.equal(atLoss.validUntil, 0);
      await assert.rejects(atLoss.broadcast, /not subscribed/);
      await waitFor("rejoined", () => target.clears === 3 && a.inv.validUntil > performance.now());
      // The old generation left in the same script: nobody waits for it.
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`, "silent:1"].sort());
      await w.admin.zrem(w.nodesKey, "silent:1");
      const other = await w.node({ lease: 2 });
      await other.inv.broadcast({ userId: "u-after" }, performance.now() + 5000);
      assert.deepEqual(target.users(), ["u-after"], "subscribed again, and acknowledged under its new name");
    } finally {
      await w.end();
    }
  });

  test("SUBSCRIBE refused on reconnect: retried at once, never valid nor revoking meanwhile, still counted, rejoins when allowed", async () => {
    const w = new World();
    try {
      const user = await w.aclUser();
      const target = new Recorder();
      // A lease of 5 s: a retry that waited for #beat's replacement would come after 4 s at the earliest.
      const a = await w.node({ lease: 5, target, user });
      const [first] = await w.members();
      const sender = await w.node({ lease: 5 });
      await w.allowSubscribe(false);
      const readies = a.readies;
      await w.kill(a.subName);
      await waitFor("SUBSCRIBE retried on new connections", () => a.readies >= readies + 3, 3500);
      assert.equal(a.inv.validUntil, 0);
      await assert.rejects(a.inv.broadcast({ userId: "u" }, performance.now() + 1000), /not subscribed/);
      // Its registration holds until its lease ends: a revocation waits for it, and fails in time.
      assert.deepEqual(await w.members(), [first]);
      await assert.rejects(sender.inv.broadcast({ userId: "u-counted" }, performance.now() + 300), /in time/);
      await w.allowSubscribe(true);
      await waitFor("rejoined", () => a.inv.validUntil > performance.now(), 4000);
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`]);
      await sender.inv.broadcast({ userId: "u-after" }, performance.now() + 5000);
      assert.deepEqual(target.users(), ["u-after"]);
    } finally {
      await w.end();
    }
  });

  test("a subscription that goes silent without closing: the lease runs out, then the connection is replaced and the node rejoins", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 1, target });
      const [first] = await w.members();
      let atClose: { validUntil: number; now: number } | undefined;
      a.sub.prependListener("close", () => (atClose ??= { validUntil: a.inv.validUntil, now: performance.now() }));
      // Heartbeats no longer come back; invalidations still do; the connection stays open.
      await a.sub.unsubscribe(`${w.prefix}node:${nodeIdOf(first!)}`);
      await waitFor("replaced and rejoined", async () => (await w.members()).includes(`${nodeIdOf(first!)}:2`), 4000);
      assert.ok(atClose, "the connection was closed by the node");
      assert.ok(atClose.validUntil <= atClose.now, "no renewal without heartbeats: the lease had run out before");
      await waitFor("valid again", () => a.inv.validUntil > performance.now());
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`]);
    } finally {
      await w.end();
    }
  });

  test("a renewal under way when the subscriber connection is lost does not make the node valid again", async () => {
    const w = new World();
    try {
      const user = await w.aclUser();
      const target = new Recorder();
      const a = await w.node({ lease: 2, target, user });
      const [member] = await w.members();
      let held = false;
      // On the next heartbeat's echo, hold the command connection: the renewal queues behind the BLPOP.
      a.sub.prependListener("message", (_channel: string, message: string) => {
        if (held || !message.startsWith("h ")) return;
        held = true;
        a.redis.blpop(w.hold, 0).catch(() => {});
      });
      await waitFor("a heartbeat came back", () => held);
      const scoreBefore = Number(await w.admin.zscore(w.nodesKey, member!));
      await w.allowSubscribe(false);
      await w.kill(a.subName);
      await waitFor("the loss", () => target.clears === 2);
      await releaseHold(w, a);
      assert.ok(Number(await w.admin.zscore(w.nodesKey, member!)) > scoreBefore, "the renewal did run, and succeeded");
      assertNeverValidSinceLoss(a, "the renewal was sent on a connection since lost");
    } finally {
      await w.end();
    }
  });

  test("a registration under way when the new connection is lost too does not make the node valid", async () => {
    const w = new World();
    try {
      const user = await w.aclUser();
      const target = new Recorder();
      const a = await w.node({ lease: 2, target, user });
      const [first] = await w.members();
      let held = false;
      // clear() #3 is the rejoin's, just before its registration: hold the command connection there.
      target.onClear = (clears) => {
        if (clears !== 3) return;
        held = true;
        a.redis.blpop(w.hold, 0).catch(() => {});
      };
      await w.kill(a.subName);
      await waitFor("the rejoin's registration sent", () => held);
      await w.allowSubscribe(false);
      await w.kill(a.subName);
      await waitFor("the second loss", () => target.clears === 4);
      await releaseHold(w, a);
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`], "the registration did run");
      assertNeverValidSinceLoss(a, "the registration was for a connection since lost");
    } finally {
      await w.end();
    }
  });

  test("close() while the node rejoins: its registration does not make it valid, and it leaves the set", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 2, target });
      let held = false;
      target.onClear = (clears) => {
        if (clears !== 3) return;
        held = true;
        a.redis.blpop(w.hold, 0).catch(() => {});
      };
      await w.kill(a.subName);
      await waitFor("the rejoin's registration sent", () => held);
      const closing = a.inv.close();
      await w.admin.lpush(w.hold, "go");
      await closing;
      await waitFor("the subscriber closed", () => a.validAtClose.length === 2);
      assert.equal(a.validAtClose[1], 0, "not valid when the subscriber closed after close()");
      assert.equal(a.inv.validUntil, 0);
      assert.equal(a.inv.wallValidUntil, 0);
      assert.deepEqual(await w.members(), [], "the new generation left as well");
      await assert.rejects(a.inv.broadcast({ userId: "u" }, performance.now() + 1000), /not subscribed/);
    } finally {
      await w.end();
    }
  });

  test("the connection drops while SUBSCRIBE is under way: the stale join registers nothing, one generation follows", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 2, target });
      const [first] = await w.members();
      let armed = true;
      // After start's `ready` handler has sent SUBSCRIBE, drop the socket: ioredis resends it later.
      a.sub.on("ready", () => {
        if (!armed) return;
        armed = false;
        a.sub.stream.destroy();
      });
      await w.kill(a.subName);
      await waitFor("rejoined", () => target.clears >= 4 && a.inv.validUntil > performance.now());
      await sleep(300);
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`]);
      assert.equal(target.clears, 4, "two losses, one registration");
    } finally {
      await w.end();
    }
  });

  test("a loss while a broadcast reads the members fails it (503), even before it waits", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const s = await w.node({ lease: 2, target });
      await w.fakeMember("silent:1", 60_000);
      s.redis.blpop(w.hold, 0).catch(() => {});
      const reading = s.inv.broadcast({ userId: "u" }, performance.now() + 10_000);
      reading.catch(() => {});
      await w.kill(s.subName);
      await waitFor("the loss", () => target.clears >= 2);
      await w.admin.lpush(w.hold, "go");
      await assert.rejects(reading, /^Error: the invalidation channel closed$/);
    } finally {
      await w.end();
    }
  });

  test("a registration gone from Redis while two renewals are under way: one new generation, not two", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 2, target });
      const [first] = await w.members();
      // Hold the command connection for two heartbeats or more (every 400 ms; 900 ms, well within the lease):
      // their echoes come back together on release, and their renewals are under way at once.
      a.redis.blpop(w.hold, 0).catch(() => {});
      await sleep(900);
      await w.admin.zrem(w.nodesKey, first!);
      await w.admin.lpush(w.hold, "go");
      await waitFor("rejoined", async () => (await w.members()).length === 1 && a.inv.validUntil > performance.now());
      await sleep(200);
      assert.deepEqual(await w.members(), [`${nodeIdOf(first!)}:2`]);
      assert.equal(target.clears, 2, "one new generation");
    } finally {
      await w.end();
    }
  });

  test("messages on the node channel that are not heartbeats do not count as one: the silent node is replaced", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const a = await w.node({ lease: 1, target });
      const channel = `${w.prefix}node:${nodeIdOf((await w.members())[0]!)}`;
      // Heartbeats are published on the command connection: held, none comes back. Meanwhile the
      // channel carries messages naming every heartbeat number sent so far, but not as "h <n>".
      a.redis.blpop(w.hold, 0).catch(() => {});
      let forging = true;
      const forge = (async () => {
        while (forging) {
          const pipeline = w.admin.pipeline();
          for (let n = 1; n <= 60; n++) pipeline.publish(channel, `x ${n}`);
          await pipeline.exec();
          await sleep(100);
        }
      })();
      try {
        await waitFor("the connection replaced after a lease without heartbeats", () => a.validAtClose.length >= 1, 4000);
      } finally {
        forging = false;
        await forge;
        await w.admin.lpush(w.hold, "go");
      }
    } finally {
      await w.end();
    }
  });

  test("acknowledgements: early, late (while the sender checks who is alive), withheld, after the end, and leases running out", async () => {
    const w = new World();
    try {
      const target = new Recorder();
      const s = await w.node({ lease: 1, target });
      const nodeId = nodeIdOf((await w.members())[0]!);
      const ack = (n: number, member: string) => w.admin.publish(`${w.prefix}node:${nodeId}`, `a ${nodeId}.${n} ${member}`);
      const published = await w.listen(w.prefix + "inv");

      // Early: acknowledged before the sender has read the members (its command connection held).
      await w.fakeMember("early:1", 60_000);
      s.redis.blpop(w.hold, 0).catch(() => {});
      const early = s.inv.broadcast({ userId: "u-early" }, performance.now() + 1500);
      await ack(1, "early:1");
      await w.probe(target, "p1");
      await w.admin.lpush(w.hold, "go");
      await early;
      await w.admin.zrem(w.nodesKey, "early:1");

      // Late: arrives while the sender waits on its membership check (held), then completes it.
      await w.fakeMember("late:1", 60_000);
      const late = s.inv.broadcast({ userId: "u-late" }, performance.now() + 5000);
      await waitFor("published", () => published.some((m) => m.includes("u-late")));
      s.redis.blpop(w.hold, 0).catch(() => {});
      await sleep(300);
      await ack(2, "late:1");
      await w.probe(target, "p2");
      await w.admin.lpush(w.hold, "go");
      await late;
      await w.admin.zrem(w.nodesKey, "late:1");

      // Withheld: the revocation fails at its deadline; the acknowledgement that comes after is ignored.
      await w.fakeMember("withheld:1", 60_000);
      await assert.rejects(s.inv.broadcast({ userId: "u-withheld" }, performance.now() + 300), /in time/);
      await ack(3, "withheld:1");
      await w.probe(target, "p3");
      await w.admin.zrem(w.nodesKey, "withheld:1");

      // A silent member whose lease runs out is dropped: the revocation goes ahead, before the deadline.
      await w.fakeMember("expiring:1", 400);
      await s.inv.broadcast({ userId: "u-expiring" }, performance.now() + 10_000);
      assert.deepEqual(target.users(), ["p1", "p2", "p3"], "its own broadcasts are not applied to its cache");
    } finally {
      await w.end();
    }
  });

  test("a member that keeps renewing without acknowledging fails a key revocation after its lease and the grace", async () => {
    const w = new World();
    try {
      const s = await w.node({ lease: 1 });
      await w.fakeMember("stubborn:1", 3000);
      const renewing = setInterval(() => void w.fakeMember("stubborn:1", 3000).catch(() => {}), 200);
      const started = performance.now();
      const outcome = await Promise.race([
        s.inv.broadcastKeyRevoked("kid-x").then(
          () => "resolved",
          (error: Error) => error.message,
        ),
        sleep(10_000, "still waiting", { ref: false }),
      ]);
      clearInterval(renewing);
      const took = performance.now() - started;
      assert.match(outcome, /in time/);
      // Its lease as read (3 s, longer than ours) plus the 2 s grace: not our own lease's 3 s.
      assert.ok(took >= 4500, `waited for the member's lease and the grace: ${Math.round(took)} ms`);
    } finally {
      await w.end();
    }
  });

  test("key revocations, concurrent broadcasts and malformed messages on the channel", async () => {
    const w = new World();
    try {
      const kTarget = new KeyRecorder();
      await w.node({ lease: 2, target: kTarget });
      const [kMember] = await w.members();
      // A caching node whose target cannot drop keys: it must stay silent, not fail.
      const pTarget = new Recorder();
      const p = await w.node({ lease: 2, target: pTarget });
      const pMember = (await w.members()).find((m) => m !== kMember)!;
      const acks = await w.listen(`${w.prefix}node:other`);
      const send = (message: object) => w.admin.publish(w.prefix + "inv", JSON.stringify({ o: "other", ...message }));
      const acked = (id: string, member: string) => acks.includes(`a ${id} ${member}`);

      await send({ i: "other.k1", u: "", s: [], k: "kid-1" });
      await send({ i: "other.m1", u: "u-mixed", s: ["s", 1] });
      await send({ i: "other.m2", u: "u-kid", s: ["s"], k: 7 });
      await send({ i: "other.p1", u: "u-p1", s: null });
      await waitFor("both acknowledged p1", () => acked("other.p1", kMember!) && acked("other.p1", pMember));
      assert.deepEqual(kTarget.kids, ["kid-1"]);
      assert.ok(!acks.some((a) => a.startsWith("a other.k1 ")), "no acknowledgement before the key is dropped");
      assert.ok(!acks.some((a) => a.startsWith("a other.m1 ")), "a session list with a non-string is refused");
      // A `k` that is not a string is no key revocation: an invalidation like any other.
      assert.deepEqual(kTarget.users(), ["u-kid", "u-p1"]);
      assert.deepEqual(pTarget.users(), ["u-kid", "u-p1"]);
      kTarget.release();
      await waitFor("k acknowledged the key", () => acked("other.k1", kMember!));
      await send({ i: "other.p2", u: "u-p2", s: null });
      await waitFor("p acknowledged p2", () => acked("other.p2", pMember));
      assert.ok(!acked("other.k1", pMember), "a node that cannot drop the key stays silent");
      await p.inv.close();

      // End to end: the key revocation returns once k has dropped the key, not before.
      const s = await w.node({ lease: 2 });
      let settled = false;
      const revoking = s.inv.broadcastKeyRevoked("kid-2").finally(() => (settled = true));
      await waitFor("k told", () => kTarget.kids.includes("kid-2"));
      await sleep(100);
      assert.equal(settled, false, "still waiting for k");
      kTarget.release();
      await revoking;
      // Two broadcasts at once from one node: each waits for its own acknowledgements.
      await Promise.all([
        s.inv.broadcast({ userId: "c1" }, performance.now() + 3000),
        s.inv.broadcast({ userId: "c2", sessionIds: ["x"] }, performance.now() + 3000),
      ]);
      assert.deepEqual(kTarget.users().slice(-2).sort(), ["c1", "c2"]);

      // Not started: not subscribed, so nothing can be revoked through it.
      const idle = new Redis(REDIS_URL!, { lazyConnect: true });
      try {
        const never = new RedisInvalidation({ redis: idle, prefix: w.prefix, leaseSeconds: 2 });
        await assert.rejects(never.broadcast({ userId: "u" }, performance.now() + 1000), /not subscribed/);
      } finally {
        idle.disconnect();
      }
    } finally {
      await w.end();
    }
  });
});
