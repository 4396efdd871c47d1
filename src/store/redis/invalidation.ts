// One file, one protocol: the cross-node invalidation (registration, lease, heartbeat, publish,
// acknowledgement) is a single state machine whose invariants read best side by side; a signing
// key's revocation rides the same messages and acknowledgements (docs/keys.md).
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { CacheLease, RevocationChange } from "../revocation/state.js";

/** What a node's cache must do when told (LocalRevocationCache). */
export interface InvalidationTarget {
  invalidate(change: RevocationChange): void;
  clear(): void;
  /**
   * A signing key was revoked: forget it before resolving (`tokenver keys revoke`). The node
   * acknowledges once this resolves, so the revocation returns only after every caching node has
   * dropped the key (or lost its lease).
   */
  keyRevoked?(kid: string): Promise<void>;
}

/**
 * Cross-node invalidation: lets every node keep revocation state in memory and stay exact.
 *
 * The rule it keeps: before a revocation commits, every node that could answer from memory has
 * forgotten what the revocation changes, or has stopped answering from memory. Afterwards no node
 * can fill the old state back: the Redis in-flight markers (redis.ts) make every read of those keys
 * uncacheable until the new values are written. Then the revocation commits.
 *
 * How (docs/scale-out.md, "Node caches"):
 * - Membership: a caching node subscribes first, then registers `<node>:<generation>` in a sorted
 *   set scored by Redis time + lease. It answers from memory only until the send time of its last
 *   confirmed registration or renewal + lease - margin (its own monotonic clock), i.e. always before
 *   Redis considers it gone.
 * - Renewal proves the subscription works: the node publishes a heartbeat to itself and renews only
 *   when it has come back, so every message published before it has been processed. A renewal that
 *   finds the registration expired starts a new generation with an empty cache.
 * - A revocation publishes the invalidation and reads the live members in one script, then waits
 *   until each has acknowledged or is gone (expired, or replaced by its next generation). Nothing
 *   commits when that fails or takes longer than a lease: 503.
 * - A node whose subscriber connection closes forgets everything at once and rejoins as a new
 *   generation once subscribed again; reads started before that never fill (the cache's epoch).
 * Assumption: the Redis host's clock does not jump forward by more than the margin (as for any
 * lease on Redis).
 */
export class RedisInvalidation implements CacheLease {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #target: InvalidationTarget | undefined;
  readonly #leaseMs: number;
  readonly #nodeId = randomBytes(12).toString("base64url");
  readonly #membersKey: string;
  readonly #invalidationChannel: string;
  readonly #prefix: string;
  readonly #waits = new Map<string, Acknowledgements>();
  #validUntil = 0;
  #wallValidUntil = 0;
  #member: string | undefined;
  #generation = 0;
  /** Bumped whenever the subscriber connection closes: work begun before it is void. */
  #connection = 0;
  #subscribed = false;
  /** Heartbeats sent and not yet back: seq -> send time. Any of them coming back renews. */
  readonly #heartbeats = new Map<number, Instant>();
  /** performance.now() when the subscription last proved to work (joined, or a heartbeat came back). */
  #heardAt = 0;
  #seq = 0;
  #sent = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  /** `target` undefined: this process caches nothing; it only invalidates others' caches. */
  constructor(options: { redis: Redis; prefix: string; leaseSeconds: number; target?: InvalidationTarget }) {
    this.#redis = options.redis;
    // A slow SUBSCRIBE is not a dead one: give it a lease (a hung one is replaced by #beat).
    this.#subscriber = options.redis.duplicate({ autoResubscribe: false, lazyConnect: true, commandTimeout: options.leaseSeconds * 1000 });
    this.#subscriber.on("error", () => {});
    this.#target = options.target;
    this.#leaseMs = options.leaseSeconds * 1000;
    this.#prefix = options.prefix;
    this.#membersKey = options.prefix + "nodes";
    this.#invalidationChannel = options.prefix + "inv";
    options.redis.defineCommand("tokenverLease", { numberOfKeys: 1, lua: LEASE_SCRIPT });
    options.redis.defineCommand("tokenverInvalidate", { numberOfKeys: 1, lua: INVALIDATE_SCRIPT });
    options.redis.defineCommand("tokenverAlive", { numberOfKeys: 1, lua: ALIVE_SCRIPT });
  }

  /** performance.now() until which the cache may answer from memory. */
  get validUntil(): number {
    return this.#validUntil;
  }

  /**
   * The same on the wall clock (Date.now()). The monotonic clock stops while the host sleeps (a
   * suspended VM or laptop); the wall clock is set forward on waking, so a lease that ran out
   * meanwhile is not taken for a live one.
   */
  get wallValidUntil(): number {
    return this.#wallValidUntil;
  }

  /** Extends validity to one lease (less the margin) after `sent`, never shortens it. */
  #validFrom(sent: Instant): void {
    const until = sent.monotonic + this.#leaseMs - this.#marginMs;
    if (until <= this.#validUntil) return;
    // Both from the same instant: a wall clock stepped back cannot keep an older, later deadline.
    this.#validUntil = until;
    this.#wallValidUntil = sent.wall + this.#leaseMs - this.#marginMs;
  }

  #invalid(): void {
    this.#validUntil = 0;
    this.#wallValidUntil = 0;
  }

  get #nodeChannel(): string {
    return this.#prefix + "node:" + this.#nodeId;
  }

  async start(): Promise<void> {
    this.#subscriber.on("message", (channel: string, message: string) => this.#onMessage(channel, message));
    // Listening before the first connect: a drop during the first join must not go unnoticed.
    this.#subscriber.on("close", () => this.#lost());
    this.#subscriber.on("ready", () => {
      // Only a failed SUBSCRIBE needs a new connection; a failed registration is retried by the
      // next heartbeat's renewal.
      if (this.#started) this.#join().catch(() => !this.#subscribed && this.#reconnect());
    });
    await this.#subscriber.connect();
    this.#started = true;
    await this.#join();
    this.#timer = setInterval(() => this.#beat(), this.#leaseMs / RENEWALS_PER_LEASE);
    this.#timer.unref();
  }

  /** Subscribes, then (a caching node) forgets everything and registers a new generation. */
  async #join(): Promise<void> {
    if (this.#closed) return;
    const connection = this.#connection;
    const channels = this.#target === undefined ? [this.#nodeChannel] : [this.#invalidationChannel, this.#nodeChannel];
    await this.#subscriber.subscribe(...channels);
    if (connection !== this.#connection || this.#closed) return;
    this.#subscribed = true;
    this.#heardAt = performance.now();
    await this.#register(connection);
  }

  /** Drops the subscriber connection and lets ioredis open a new one (then `ready` rejoins). */
  #reconnect(): void {
    if (this.#closed) return;
    this.#heardAt = performance.now();
    this.#subscriber.disconnect(true);
  }

  async #register(connection: number): Promise<void> {
    if (this.#target === undefined || this.#closed) return;
    this.#invalid();
    // Subscribed already: every invalidation from now on arrives. What is cached may have missed
    // one. Reads started from here on are sent on the command connection after the registration
    // below, so Redis runs them after it: if a revocation did not count this node (it registered
    // later), those reads see the revocation's marker and are not cached. Reads started before
    // are void (the clear bumps the cache's epoch).
    this.#target.clear();
    const previous = this.#member ?? "";
    const member = `${this.#nodeId}:${++this.#generation}`;
    this.#member = member;
    const sent = instant();
    await (this.#redis as unknown as Commands).tokenverLease(this.#membersKey, member, String(this.#leaseMs), "join", previous);
    if (connection === this.#connection && member === this.#member && !this.#closed) this.#validFrom(sent);
  }

  get #marginMs(): number {
    return this.#leaseMs / MARGIN_FRACTION;
  }

  #lost(): void {
    this.#connection++;
    this.#subscribed = false;
    this.#invalid();
    this.#heartbeats.clear();
    this.#target?.clear();
    // Acknowledgements sent to this connection meanwhile are lost: those revocations fail (503).
    for (const wait of this.#waits.values()) wait.fail();
  }

  /** Every process beats (a revoker needs its acknowledgements to arrive); caching nodes renew on the echo. */
  #beat(): void {
    if (this.#closed) return;
    // A connection that died without a FIN never says `close`, and a failed subscribe leaves it
    // unsubscribed: either way nothing has come back for a lease. Replace the connection. Decided
    // after the poll phase: after an event-loop stall, echoes already waiting count first.
    setImmediate(() => {
      if (!this.#closed && performance.now() - this.#heardAt > this.#leaseMs) this.#reconnect();
    });
    if (!this.#subscribed) return;
    const seq = ++this.#seq;
    this.#heartbeats.set(seq, instant());
    for (const old of this.#heartbeats.keys()) if (old <= seq - RENEWALS_PER_LEASE) this.#heartbeats.delete(old);
    this.#redis.publish(this.#nodeChannel, "h " + seq).catch(() => {});
  }

  async #renew(sent: Instant): Promise<void> {
    const connection = this.#connection;
    const member = this.#member;
    if (this.#target === undefined || member === undefined || this.#closed) return;
    try {
      const renewed = await (this.#redis as unknown as Commands).tokenverLease(
        this.#membersKey,
        member,
        String(this.#leaseMs),
        "renew",
        "",
      );
      if (connection !== this.#connection || member !== this.#member || this.#closed) return;
      if (renewed === 1) this.#validFrom(sent);
      // Expired in Redis: revocations went ahead without us. Start again with nothing cached.
      else await this.#register(connection);
    } catch {
      // The lease runs out by itself; a later heartbeat tries again.
    }
  }

  #onMessage(channel: string, message: string): void {
    if (channel === this.#invalidationChannel) return this.#onInvalidation(message);
    if (channel !== this.#nodeChannel) return;
    if (message.startsWith("a ")) {
      const space = message.indexOf(" ", 2);
      this.#waits.get(message.slice(2, space))?.acknowledge(message.slice(space + 1));
    } else if (message.startsWith("h ")) {
      const seq = Number(message.slice(2));
      const sent = this.#heartbeats.get(seq);
      if (sent === undefined || this.#closed) return;
      // This one and every earlier one have come back (one connection keeps the order).
      for (const old of this.#heartbeats.keys()) if (old <= seq) this.#heartbeats.delete(old);
      this.#heardAt = performance.now();
      void this.#renew(sent);
    }
  }

  #onInvalidation(message: string): void {
    const change = parseInvalidation(message);
    if (change === undefined || this.#target === undefined) return;
    // Our own revocations: the local cache forgot the keys itself.
    if (change.origin === this.#nodeId) return;
    const member = this.#member;
    const acknowledge = () => {
      if (member !== undefined) this.#redis.publish(this.#prefix + "node:" + change.origin, `a ${change.id} ${member}`).catch(() => {});
    };
    if (change.revokedKid !== undefined) {
      // Acknowledged once the key is gone (a node that cannot drop it stays silent: the revoker waits or fails).
      this.#target.keyRevoked?.(change.revokedKid).then(acknowledge, () => {});
      return;
    }
    this.#target.invalidate(change);
    acknowledge();
  }

  /**
   * Has every caching node forget `change`, and resolves once each has acknowledged or is gone.
   * Throws when that cannot be known in time: the caller must not commit the revocation.
   */
  async broadcast(change: RevocationChange, deadline: number): Promise<void> {
    return this.#broadcast({ u: change.userId, s: change.sessionIds ?? null }, deadline);
  }

  /**
   * Has every caching node drop a revoked signing key (after the revocation committed), and
   * resolves once each has acknowledged or is gone, as `broadcast` does. Throws when that cannot
   * be known in time.
   */
  async broadcastKeyRevoked(kid: string): Promise<void> {
    return this.#broadcast({ u: "", s: [], k: kid }, Infinity);
  }

  async #broadcast(fields: { u: string; s: string[] | null; k?: string }, deadline: number): Promise<void> {
    if (!this.#subscribed) throw new Error("the invalidation channel is not subscribed");
    const id = `${this.#nodeId}.${++this.#sent}`;
    const wait = new Acknowledgements();
    this.#waits.set(id, wait);
    try {
      const message = JSON.stringify({ i: id, o: this.#nodeId, ...fields });
      const [now, ...scored] = (await (this.#redis as unknown as Commands).tokenverInvalidate(
        this.#membersKey,
        this.#invalidationChannel,
        message,
      )) as string[];
      const members: string[] = [];
      let longest = this.#leaseMs;
      for (let i = 0; i + 1 < scored.length; i += 2) {
        if (scored[i]!.startsWith(this.#nodeId + ":")) continue;
        members.push(scored[i]!);
        longest = Math.max(longest, Number(scored[i + 1]) - Number(now));
      }
      wait.expect(members);
      // By then every silent member's lease has run out (a member renews at most once more
      // without having processed this message, for one lease: the same as ours). A member that
      // holds on longer makes this revocation fail (503), never go ahead without it.
      deadline = Math.min(deadline, performance.now() + longest + ACK_GRACE_MS);
      while (!(await wait.settled(ACK_POLL_MS))) {
        if (performance.now() > deadline) throw new Error("caching nodes did not acknowledge an invalidation in time");
        // Silent for a while: drop the members whose lease ran out (or that rejoined as a new generation).
        const alive = (await (this.#redis as unknown as Commands).tokenverAlive(this.#membersKey, ...wait.pending)) as string[];
        wait.keepOnly(alive);
      }
    } finally {
      this.#waits.delete(id);
    }
  }

  /**
   * The longest `broadcast` takes when every process has the same lease: a lease, the grace, and
   * the last membership check. (Longer leases elsewhere are cut short by the caller's deadline.)
   */
  get longestBroadcastMs(): number {
    return this.#leaseMs + ACK_GRACE_MS + ACK_POLL_MS + COMMAND_TIMEOUT_MS;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#invalid();
    const member = this.#member;
    // Leave at once, so revocations need not wait for this node's lease to run out.
    if (member !== undefined) await this.#redis.zrem(this.#membersKey, member).catch(() => {});
    this.#subscriber.disconnect();
  }
}

interface Instant {
  monotonic: number;
  wall: number;
}

function instant(): Instant {
  return { monotonic: performance.now(), wall: Date.now() };
}

/** Renewals per lease; the node stops answering from memory after losing most of them. */
const RENEWALS_PER_LEASE = 5;
/** The node's validity ends a fifth of a lease before Redis lets the registration go. */
const MARGIN_FRACTION = 5;
const ACK_POLL_MS = 50;
const ACK_GRACE_MS = 2_000;
/** ioredis's commandTimeout on our connections (redis.ts). */
const COMMAND_TIMEOUT_MS = 1_000;

type Commands = {
  tokenverLease(key: string, member: string, leaseMs: string, mode: "join" | "renew", previous: string): Promise<number>;
  tokenverInvalidate(key: string, channel: string, message: string): Promise<unknown>;
  tokenverAlive(key: string, ...members: string[]): Promise<unknown>;
};

/** Who still has to acknowledge one invalidation. */
class Acknowledgements {
  #pending: Set<string> | undefined;
  readonly #early = new Set<string>();
  #failed = false;
  #wake: (() => void) | undefined;

  get pending(): string[] {
    return [...(this.#pending ?? [])];
  }

  expect(members: string[]): void {
    this.#pending = new Set(members.filter((member) => !this.#early.has(member)));
  }

  acknowledge(member: string): void {
    if (this.#pending === undefined) this.#early.add(member);
    else if (this.#pending.delete(member) && this.#pending.size === 0) this.#wake?.();
  }

  keepOnly(alive: string[]): void {
    const keep = new Set(alive);
    for (const member of this.#pending ?? []) if (!keep.has(member)) this.#pending!.delete(member);
  }

  fail(): void {
    this.#failed = true;
    this.#wake?.();
  }

  /** True once nobody is pending; false after `ms` without that. Throws once failed. */
  async settled(ms: number): Promise<boolean> {
    if (this.#failed) throw new Error("the invalidation channel closed");
    if (this.#pending!.size === 0) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
    if (this.#failed) throw new Error("the invalidation channel closed");
    return this.#pending!.size === 0;
  }
}

function parseInvalidation(message: string): (RevocationChange & { id: string; origin: string; revokedKid?: string }) | undefined {
  try {
    const parsed = JSON.parse(message) as { i?: unknown; o?: unknown; u?: unknown; s?: unknown; k?: unknown };
    if (typeof parsed.i !== "string" || typeof parsed.o !== "string" || typeof parsed.u !== "string") return undefined;
    // A revoked signing key (an empty user and no session: a node of before ignores it harmlessly).
    if (typeof parsed.k === "string") return { id: parsed.i, origin: parsed.o, userId: "", sessionIds: [], revokedKid: parsed.k };
    if (parsed.s === null) return { id: parsed.i, origin: parsed.o, userId: parsed.u };
    if (!Array.isArray(parsed.s) || !parsed.s.every((id) => typeof id === "string")) return undefined;
    return { id: parsed.i, origin: parsed.o, userId: parsed.u, sessionIds: parsed.s as string[] };
  } catch {
    return undefined;
  }
}

/**
 * Redis time in milliseconds: every lease is scored and checked on the one clock. Redis before 7
 * refuses writes after TIME in a script unless it replicates effects, hence replicate_commands.
 */
const NOW = `
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * Registers (join, replacing the previous generation) or renews a member; a renewal of a member
 * that has expired or was removed fails (0), so the node starts again with an empty cache. The set
 * has no TTL (one shorter than some member's lease would drop a live member): expired members are
 * trimmed here, and Redis deletes the set when the last one goes.
 */
const LEASE_SCRIPT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
if ARGV[3] == 'renew' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[1], ARGV[4]) end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
return 1`;

/**
 * Publishes an invalidation and returns, at the same instant, Redis time and every member still
 * holding a lease with its expiry: [now, member, expiry, member, expiry, ...].
 */
const INVALIDATE_SCRIPT = `${NOW}
redis.call('PUBLISH', ARGV[1], ARGV[2])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%d', now), '+inf', 'WITHSCORES')
table.insert(members, 1, string.format('%d', now))
return members`;

/** The given members that still hold a lease. */
const ALIVE_SCRIPT = `${NOW}
local alive = {}
for _, member in ipairs(ARGV) do
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) > now then alive[#alive + 1] = member end
end
return alive`;
