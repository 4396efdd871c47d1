import { BoundedMap } from "../../lib/bounded-map.js";

/**
 * Fixed-window counters for throttling. One interface, a memory implementation for one process and
 * a Redis one shared by every node (redis.ts). A counter store that does not answer throws, and the
 * caller fails closed.
 */
export interface CounterStore {
  /**
   * Adds one to `key` unless its open window has reached `limit` (then `counted` is false and
   * nothing changes: a refused attempt checks no password, so it uses up nothing), starting a
   * window of `windowSeconds` if none is open. Check and add are one step: parallel attempts
   * cannot overtake the limit. `count` is the window's count after this call (at least the limit when
   * refused), `retryAfter` the seconds until the window ends.
   */
  hit(key: string, windowSeconds: number, limit: number): Promise<CounterHit>;
  reset(key: string): Promise<void>;
  /**
   * Takes back one hit of `key`'s open window (never below zero): an attempt counted up front
   * that turned out to succeed, so only failures use up an allowance.
   */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface CounterHit {
  counted: boolean;
  count: number;
  retryAfter: number;
}

export class MemoryCounterStore implements CounterStore {
  readonly #windows: BoundedMap<string, { count: number; resetAt: number }>;
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now, maxKeys = 1_000_000) {
    this.#clock = clock;
    this.#windows = new BoundedMap(maxKeys);
  }

  async hit(key: string, windowSeconds: number, limit: number): Promise<CounterHit> {
    const now = this.#clock();
    let w = this.#windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      // Full: expired windows go first; if still full, the map drops the oldest.
      if (this.#windows.size >= this.#windows.max) this.#sweep(now);
      w = { count: 0, resetAt: now + windowSeconds * 1000 };
      this.#windows.set(key, w);
    }
    const counted = w.count < limit;
    if (counted) w.count++;
    return { counted, count: w.count, retryAfter: Math.ceil((w.resetAt - now) / 1000) };
  }

  async reset(key: string) {
    this.#windows.delete(key);
  }

  async release(key: string) {
    const w = this.#windows.get(key);
    if (w !== undefined && w.resetAt > this.#clock() && w.count > 0) w.count--;
  }

  async close() {
    this.#windows.clear();
  }

  #sweep(now: number) {
    for (const [key, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(key);
  }
}
