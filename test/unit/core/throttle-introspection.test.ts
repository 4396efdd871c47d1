import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError } from "../../../src/core/errors.js";
import { INTROSPECTIONS_PER_MINUTE, Throttle } from "../../../src/core/throttle.js";
import { MemoryCounterStore } from "../../../src/store/counters/counter-store.js";

// docs/api.md section 7: introspection is "throttled per client": INTROSPECTIONS_PER_MINUTE per
// service client per minute, each client on its own budget, and a client's wrong credentials
// counted against its address like failed logins.
const LIMITS = { accountFailures: 5, addressFailures: 3, windowSeconds: 900, registrations: 20, addressLogins: 100 };

function throttleAt(start = 1_800_000_000_000) {
  let now = start;
  return { throttle: new Throttle(new MemoryCounterStore(() => now), LIMITS), advance: (ms: number) => void (now += ms) };
}

const isRateLimited = (error: unknown) =>
  error instanceof AuthError && error.code === "rate_limited" && error.status === 429 && Number(error.retryAfter) > 0;

describe("introspection throttling", () => {
  test(`a client gets ${INTROSPECTIONS_PER_MINUTE} a minute, then 429 with Retry-After; another client is not affected`, async () => {
    const { throttle } = throttleAt();
    for (let i = 0; i < INTROSPECTIONS_PER_MINUTE; i++) await throttle.countIntrospection("client-a");
    await assert.rejects(throttle.countIntrospection("client-a"), isRateLimited);
    await throttle.countIntrospection("client-b");
  });

  test("the budget comes back in the next minute", async () => {
    const { throttle, advance } = throttleAt();
    for (let i = 0; i < INTROSPECTIONS_PER_MINUTE; i++) await throttle.countIntrospection("client-a");
    await assert.rejects(throttle.countIntrospection("client-a"), isRateLimited);
    advance(61_000);
    await throttle.countIntrospection("client-a");
  });

  test("wrong client credentials count against the address: addressFailures, then 429", async () => {
    const { throttle } = throttleAt();
    for (let i = 0; i < LIMITS.addressFailures; i++) await throttle.countClientFailure("192.0.2.7");
    await assert.rejects(throttle.countClientFailure("192.0.2.7"), isRateLimited);
    await throttle.countClientFailure("192.0.2.8");
    await throttle.countClientFailure(undefined);
  });
});
