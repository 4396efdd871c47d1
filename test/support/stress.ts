// What the stress tests of concurrent flows share (test/admin-stress.test.ts,
// test/account-stress.test.ts): a seeded mix, and a refusal described down to the database's cause.
import { randomInt } from "node:crypto";
import { AuthError } from "../../src/core/errors.js";

/** The seed of a run's operation mix: TOKENVER_STRESS_SEED draws the same mix again (the interleaving differs). */
export function stressSeed(): number {
  return process.env.TOKENVER_STRESS_SEED ? Number(process.env.TOKENVER_STRESS_SEED) : randomInt(2 ** 31);
}

/** mulberry32: a small seeded PRNG, so the same seed builds the same operation mix. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The code and message, and for a 503 its cause (the database's SQLSTATE and message). */
export function describeError(error: unknown): string {
  if (!(error instanceof AuthError)) return `not an AuthError: ${String(error)}`;
  const cause = error.cause as { code?: unknown; message?: unknown; where?: unknown; detail?: unknown } | undefined;
  // PostgreSQL says which row lock a deadlock's victim waited for (`where`) and on whom (`detail`).
  const where = [cause?.where, process.env.TOKENVER_STRESS_DETAIL ? cause?.detail : undefined].filter((x) => typeof x === "string");
  const why =
    cause === undefined
      ? ""
      : ` (cause: ${String(cause.code ?? "")} ${String(cause.message ?? cause)}${where.map((w) => `; ${w}`).join("")})`;
  return `${error.code}: ${error.message}${why}`;
}
