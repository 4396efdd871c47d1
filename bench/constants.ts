/** The fixed parameters of the benchmark: what every run shares, whatever its options. */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SECRET = "bench-secret-bench-secret-bench-secret-0123456789";
export const PASSWORD = "bench password that is long enough";
export const ACCESS_TTL = 3600;
export const CONNECTIONS = 10;
export const EXAMPLE = "examples/fastify-notes/server.ts";
/**
 * TOKENVER_REDIS_ENTRY_TTL of the Redis cases (default 60): also how long nodes wait to trust Redis
 * and how long a node keeps an entry. Every round begins its Redis cases by having each node read
 * every session once (measure.ts, refillRedisNodes), and they end well within 120 s of that: the
 * rounds measure the hit path, the steady state of a node whose sessions come back within the
 * entry lifetime.
 */
export const REDIS_ENTRY_TTL = 120;
