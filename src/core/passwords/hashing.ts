import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { Algorithm, hash, verify } from "@node-rs/argon2";

/** OWASP's argon2id parameters (m=19 MiB, t=2, p=1). Hashing runs on the libuv thread pool. */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most this many argon2 runs at once (one core's worth is left to the event loop), so a storm
 * of logins queues instead of starving the verification of every other request.
 */
const ARGON2_CONCURRENCY = Math.max(1, availableParallelism() - 1);
let running = 0;
const waiting: Array<() => void> = [];

async function withArgon2Slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= ARGON2_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter, or give it back.
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return withArgon2Slot(() => hash(password, ARGON2));
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await withArgon2Slot(() => verify(passwordHash, password));
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password, made once, that no login can match. */
function dummy(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString("base64url"));
  return dummyHash;
}

/**
 * Burns the same argon2 work as a real verification, for logins of unknown accounts, so that a
 * wrong email and a wrong password take about the same time.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  await verifyPassword(await dummy(), password);
  return false;
}

/** Makes the dummy hash ahead of the first login of an unknown account. */
export async function prepareDummyHash(): Promise<void> {
  await dummy();
}
