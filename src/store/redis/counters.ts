import type { Redis } from "ioredis";
import { MemoryCounterStore, type CounterHit, type CounterStore } from "../counters/counter-store.js";

/**
 * Fixed-window counters shared by every node. When Redis does not answer, counting continues in
 * this process's memory: throttling gets per-node for the outage, it never switches off.
 */
export class RedisCounterStore implements CounterStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #fallback: MemoryCounterStore;
  /** performance.now() until which Redis is not asked: a hung Redis costs one timeout, not one per call. */
  #skipUntil = 0;

  constructor(redis: Redis, prefix: string, clock: () => number) {
    this.#redis = redis;
    this.#prefix = prefix + "rl:";
    this.#fallback = new MemoryCounterStore(clock);
    this.#redis.defineCommand("tokenverHit", { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.#redis.defineCommand("tokenverRelease", { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }

  /** Runs a Redis call unless Redis failed a moment ago; undefined when it was skipped or failed. */
  async #redisCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    if (performance.now() < this.#skipUntil) return undefined;
    try {
      return await call();
    } catch {
      this.#skipUntil = performance.now() + COUNTER_BACKOFF_MS;
      return undefined;
    }
  }

  async hit(key: string, windowSeconds: number, limit: number): Promise<CounterHit> {
    const result = (await this.#redisCall(() =>
      (this.#redis as unknown as CounterCommands).tokenverHit(this.#prefix + key, String(windowSeconds), String(limit)),
    )) as [number, number, number] | undefined;
    if (result === undefined) return this.#fallback.hit(key, windowSeconds, limit);
    return { counted: result[0] === 1, count: Number(result[2]), retryAfter: Math.max(1, result[1]) };
  }

  async release(key: string) {
    await this.#fallback.release(key);
    // On failure the counter simply expires with its window.
    await this.#redisCall(() => (this.#redis as unknown as CounterCommands).tokenverRelease(this.#prefix + key));
  }

  async reset(key: string) {
    await this.#fallback.reset(key);
    await this.#redisCall(() => this.#redis.del(this.#prefix + key));
  }

  async close() {
    await this.#fallback.close();
  }
}

const COUNTER_BACKOFF_MS = 5_000;

type CounterCommands = {
  tokenverHit(key: string, window: string, limit: string): Promise<unknown>;
  tokenverRelease(key: string): Promise<unknown>;
};

/** Gives one attempt back (a success that was counted first); DECR keeps the window's TTL. */
const RELEASE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 1`;

/** Counts one attempt unless the window is full: returns {1 counted | 0 refused, seconds left, count}. */
const HIT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= tonumber(ARGV[2]) then return {0, redis.call('TTL', KEYS[1]), current} end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {1, redis.call('TTL', KEYS[1]), count}`;
