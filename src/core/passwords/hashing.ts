import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { Algorithm } from "@node-rs/argon2";
import { AuthError } from "../errors.js";
import { NO_OBSERVER, type Observer } from "../observer.js";
import { HashThreadGoneError, onHashThread } from "./hashing-threads.js";

/** OWASP's argon2id parameters (m=19 MiB, t=2, p=1). Hashing runs on tokenver's own threads (hashing-threads.ts). */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most this many argon2 runs at once (one core's worth is left to the event loop), so a storm
 * of logins queues instead of starving the verification of every other request.
 */
export const ARGON2_THREADS = Math.max(1, availableParallelism() - 1);

/**
 * What a refusal of a full queue tells the client to wait, in seconds. A place frees with every
 * hash that ends (tens of milliseconds each), so one second is the smallest honest whole number.
 */
export const HASH_QUEUE_RETRY_AFTER = 1;

/** A reserved place in the hashing queue, for one request's argon2 work. Release it when done. */
export interface HashTicket {
  /** Runs argon2 work (hashPassword, verifyPassword, ...) on one of the queue's threads, waiting for one first. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place back. Idempotent; call it in a `finally`. */
  release(): void;
}

/**
 * The bounded hashing queue of one auth service (docs/api.md section 3): at most `threads` argon2
 * runs at once, and at most `waiting` more requests holding a place while they wait. A request
 * that needs a hash reserves its place first, before anything else it does (the account lookup
 * included), so a full queue answers every such request `503 service_unavailable` with
 * `Retry-After` at once, whatever the account: it reveals nothing about which accounts exist,
 * and the waiting list never grows without bound.
 */
export class HashQueue {
  readonly #threads: number;
  readonly #capacity: number;
  /** Places reserved and not yet released: running, waiting for a thread, or about to. */
  #reserved = 0;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  readonly #observer: Observer;

  constructor(waiting: number, threads: number = ARGON2_THREADS, observer: Observer = NO_OBSERVER) {
    this.#threads = threads;
    this.#capacity = threads + waiting;
    this.#observer = observer;
  }

  /** A place in the queue, or `503 service_unavailable` with `Retry-After` at once when it is full. */
  reserve(): HashTicket {
    if (this.#reserved >= this.#capacity) {
      throw new AuthError("service_unavailable", "Too many password checks are waiting; try again in a moment.", {
        retryAfter: HASH_QUEUE_RETRY_AFTER,
      });
    }
    this.#reserved++;
    let released = false;
    return {
      run: (work) => {
        if (released) return Promise.reject(new Error("tokenver: a released hash ticket was used"));
        return this.#onThread(work);
      },
      release: () => {
        if (released) return;
        released = true;
        this.#reserved--;
      },
    };
  }

  async #onThread<T>(work: () => Promise<T>): Promise<T> {
    // At most `#reserved` wait here, so this list is bounded by the capacity.
    if (this.#running >= this.#threads) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.#observer.passwordHashed((performance.now() - started) / 1000);
      // Hand the thread straight to the next waiter, or give it back.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}

/**
 * argon2id of a password. Requests call it through a ticket (`ticket.run(() => hashPassword(p))`):
 * only start-up, tests and benchmarks call it bare.
 */
export function hashPassword(password: string): Promise<string> {
  return onThread(ARGON2_THREADS, "hash", [password, ARGON2]);
}

/** Whether the password matches the hash (false for a malformed hash). Through a ticket, like hashPassword. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await onThread<boolean>(ARGON2_THREADS, "verify", [passwordHash, password]);
  } catch (error) {
    // A hashing thread gone is a 503, not a wrong password; argon2 refusing the hash is.
    if (error instanceof AuthError) throw error;
    return false;
  }
}

/** argon2 on a hashing thread; a thread that died with the job is `503 service_unavailable`. */
async function onThread<T>(threads: number, op: "hash" | "verify", args: unknown[]): Promise<T> {
  try {
    return await onHashThread<T>(threads, op, args);
  } catch (error) {
    if (!(error instanceof HashThreadGoneError)) throw error;
    throw new AuthError("service_unavailable", "Passwords cannot be checked right now; try again in a moment.", {
      retryAfter: HASH_QUEUE_RETRY_AFTER,
    });
  }
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password, made once, that no login can match. */
function dummy(): Promise<string> {
  // A failed attempt (a hashing thread gone) is not kept: the next login makes it again.
  dummyHash ??= hashPassword(randomBytes(16).toString("base64url")).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  return dummyHash;
}

/**
 * Burns the same argon2 work as a real verification, for logins of unknown accounts, so that a
 * wrong email and a wrong password take about the same time. Through a ticket, like a real one.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  await verifyPassword(await dummy(), password);
  return false;
}

/** Makes the dummy hash ahead of the first login of an unknown account (at start-up, outside any queue). */
export async function prepareDummyHash(): Promise<void> {
  await dummy();
}
