// Unit tests for HashQueue (src/core/passwords/hashing.ts), beside test/hash-queue.test.ts: a
// ticket's release is idempotent (a second release must not free a second place), a thread is
// handed back when the work fails, and every run reports its duration, in seconds, to the observer.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthError } from "../../../../src/core/errors.js";
import { NO_OBSERVER, type Observer } from "../../../../src/core/observer.js";
import { HASH_QUEUE_RETRY_AFTER, HashQueue } from "../../../../src/core/passwords/hashing.js";

const full = (error: unknown) =>
  error instanceof AuthError &&
  error.code === "service_unavailable" &&
  error.status === 503 &&
  error.retryAfter === HASH_QUEUE_RETRY_AFTER &&
  error.message === "Too many password checks are waiting; try again in a moment.";

describe("HashQueue places", () => {
  test("threads + waiting places exactly; a released place is reserved again", () => {
    const queue = new HashQueue(1, 2);
    const tickets = [queue.reserve(), queue.reserve(), queue.reserve()];
    assert.throws(() => queue.reserve(), full);
    tickets[0]!.release();
    const again = queue.reserve();
    assert.throws(() => queue.reserve(), full);
    again.release();
    assert.equal(HASH_QUEUE_RETRY_AFTER, 1);
  });

  test("releasing a ticket twice frees one place, not two", () => {
    const queue = new HashQueue(0, 2);
    const a = queue.reserve();
    queue.reserve();
    a.release();
    a.release();
    queue.reserve();
    assert.throws(() => queue.reserve(), full, "two places, both taken");
  });

  test("no waiting places: as many as threads", () => {
    const queue = new HashQueue(0, 1);
    queue.reserve();
    assert.throws(() => queue.reserve(), full);
  });
});

describe("HashQueue runs", () => {
  test("work that fails hands its thread on, and its error reaches the caller", async () => {
    const queue = new HashQueue(5, 1);
    const failing = queue.reserve();
    await assert.rejects(
      failing.run(() => Promise.reject(new Error("argon2 failed"))),
      /argon2 failed/,
    );
    failing.release();
    const next = queue.reserve();
    assert.equal(await next.run(async () => 42), 42);
    next.release();
  });

  test("a waiter gets the thread of the run that ends, and the thread count stays at most `threads`", async () => {
    const queue = new HashQueue(5, 1);
    let running = 0;
    let most = 0;
    const work = async () => {
      running++;
      most = Math.max(most, running);
      await sleep(5);
      running--;
    };
    const tickets = Array.from({ length: 4 }, () => queue.reserve());
    await Promise.all(tickets.map((t) => t.run(work)));
    assert.equal(most, 1);
    // After all of them, the thread is free: a new run starts at once.
    let started = false;
    const last = tickets[0]!.run(async () => {
      started = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(started, true);
    await last;
  });

  test("every run reports its duration in seconds to the observer, failed runs too", async () => {
    const durations: number[] = [];
    const observer: Observer = { ...NO_OBSERVER, passwordHashed: (seconds: number) => durations.push(seconds) };
    const queue = new HashQueue(2, 1, observer);
    const ticket = queue.reserve();
    await ticket.run(() => sleep(60));
    await ticket.run(() => sleep(60).then(() => Promise.reject(new Error("x")))).catch(() => {});
    ticket.release();
    assert.equal(durations.length, 2);
    for (const seconds of durations) assert.ok(seconds >= 0.05 && seconds < 30, `${seconds} s`);
  });
});
