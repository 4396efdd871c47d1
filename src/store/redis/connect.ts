import { Redis } from "ioredis";
import type { Store } from "../database.js";
import type { CounterStore } from "../counters/counter-store.js";
import { DatabaseRevocationState } from "../revocation/database-state.js";
import { LocalRevocationCache } from "../revocation/local-cache.js";
import type { CacheLease, RevocationState } from "../revocation/state.js";
import { RedisCounterStore } from "./counters.js";
import { RedisInvalidation } from "./invalidation.js";
import { RedisRevocationState } from "./state.js";

/** What the Redis parts need from the settings. */
export interface RedisSettings {
  url: string;
  prefix: string;
  entryTtlSeconds: number;
  nodeLeaseSeconds: number;
  /** Node caches over Redis (default true). */
  localCache: boolean | undefined;
  clock: () => number;
  onWarning: (message: string) => void;
  /** Told of every node-cache lookup, hit or miss (metrics); usually absent. */
  onCacheLookup?: (hit: boolean) => void;
  /** The node's signing keys: told of a revoked key (resolves once it is gone) and of missed invalidations. */
  keys?: { revoked(kid: string): Promise<void>; stale(): void };
}

/** Redis could not be reached or subscribed to at start-up; the composition root names the setting. */
export class RedisUnavailableError extends Error {}

/**
 * Connects the shared revocation state and counters. With node caches (the default), each node
 * answers from memory under the invalidation protocol of invalidation.ts.
 */
export async function connectRedisState(
  store: Store,
  options: RedisSettings,
): Promise<{
  revocation: RevocationState;
  counters: CounterStore;
  /** Key revocations, exact across nodes: the broadcast, and the lease under which a node may use its keys as loaded. */
  keyRevocations: { broadcast(kid: string): Promise<void>; lease: CacheLease | undefined };
}> {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    // Fail fast instead of queueing while disconnected: the caller falls back to the database.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1000,
    connectTimeout: 3000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  });
  // Connection errors are handled by the fallback; an unhandled 'error' event would crash.
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError("could not be reached", { cause: error });
  }
  const database = new DatabaseRevocationState(store.db, store.sqlite);
  const caching = options.localCache ?? true;
  let cache: LocalRevocationCache | undefined;
  const invalidation = new RedisInvalidation({
    redis,
    prefix: options.prefix,
    leaseSeconds: options.nodeLeaseSeconds,
    target: caching
      ? {
          invalidate: (change) => cache?.invalidate(change),
          clear: () => {
            cache?.clear();
            // Invalidations may have been missed: the signing keys too are read again before use.
            options.keys?.stale();
          },
          keyRevoked: (kid) => options.keys?.revoked(kid) ?? Promise.resolve(),
        }
      : undefined,
  });
  const shared = new RedisRevocationState({
    redis,
    database,
    prefix: options.prefix,
    entryTtlSeconds: options.entryTtlSeconds,
    invalidation,
    onWarning: (m) => options.onWarning(m),
  });
  if (caching)
    cache = new LocalRevocationCache(shared, {
      lease: invalidation,
      maxAgeSeconds: options.entryTtlSeconds,
      onLookup: options.onCacheLookup,
    });
  try {
    await invalidation.start();
  } catch (error) {
    await shared.close();
    throw new RedisUnavailableError("could not be subscribed to", { cause: error });
  }
  return {
    revocation: cache ?? shared,
    counters: new RedisCounterStore(redis, options.prefix, options.clock),
    keyRevocations: { broadcast: (kid) => invalidation.broadcastKeyRevoked(kid), lease: caching ? invalidation : undefined },
  };
}
