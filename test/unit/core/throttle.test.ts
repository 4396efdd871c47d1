// Unit tests for src/core/throttle.ts: which counter each throttled operation counts, with which
// window and limit, what a refusal gives back before it answers 429, and that a counter store that
// does not answer fails closed (503). A scripted counter store records every call, so a wrong key,
// window, limit or a missing give-back shows as a different call list.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError } from "../../../src/core/errors.js";
import type { RateLimitOptions } from "../../../src/core/config.js";
import {
  INTROSPECTIONS_PER_MINUTE,
  RECHECK_FAILURES,
  RECHECK_WINDOW_SECONDS,
  SECOND_FACTOR_FAILURES,
  SECOND_FACTOR_WINDOW_SECONDS,
  Throttle,
} from "../../../src/core/throttle.js";
import type { CounterHit, CounterStore } from "../../../src/store/counters/counter-store.js";

/** Distinct limits, so a limit passed in the wrong place shows in the call list. */
const LIMITS: RateLimitOptions = { accountFailures: 3, addressFailures: 7, windowSeconds: 600, registrations: 4, addressLogins: 11 };
const IP = "203.0.113.9";
const EMAIL = "someone@example.test";

type Call = ["hit", string, number, number] | ["release", string] | ["reset", string] | ["close"];

/**
 * A counter store that records its calls and answers `hit` from `refuse`: keys listed there are
 * refused (with the given retryAfter), every other hit is counted with `count`.
 */
function scripted(options: { refuse?: Record<string, number>; count?: number; fail?: boolean } = {}) {
  const calls: Call[] = [];
  const store: CounterStore = {
    async hit(key, windowSeconds, limit): Promise<CounterHit> {
      calls.push(["hit", key, windowSeconds, limit]);
      if (options.fail) throw new Error("connection refused: redis://secret@10.0.0.1");
      const retryAfter = options.refuse?.[key];
      if (retryAfter !== undefined) return { counted: false, count: limit, retryAfter };
      return { counted: true, count: options.count ?? 1, retryAfter: windowSeconds };
    },
    async release(key) {
      calls.push(["release", key]);
      if (options.fail) throw new Error("connection refused");
    },
    async reset(key) {
      calls.push(["reset", key]);
      if (options.fail) throw new Error("connection refused");
    },
    async close() {
      calls.push(["close"]);
    },
  };
  return { calls, throttle: new Throttle(store, LIMITS) };
}

async function rateLimited(promise: Promise<unknown>, retryAfter: number, detail: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.status, 429);
    assert.equal(error.retryAfter, retryAfter, "retryAfter");
    assert.equal(error.message, detail, "detail");
    return true;
  });
}

const FAILED = "Too many failed attempts; try again later.";

const loginHits = (ip: string, email: string): Call[] => [
  ["hit", `login:address:${ip}`, LIMITS.windowSeconds, LIMITS.addressFailures],
  ["hit", `login:address-success:${ip}`, LIMITS.windowSeconds, LIMITS.addressLogins],
  ["hit", `login:account:${email}`, LIMITS.windowSeconds, LIMITS.accountFailures],
];

describe("logins", () => {
  test("an attempt counts the address's failures, the address's logins, then the account", async () => {
    const { calls, throttle } = scripted();
    await throttle.countAttempt(EMAIL, IP);
    assert.deepEqual(calls, loginHits(IP, EMAIL));
  });

  test("without an address only the account counts", async () => {
    const { calls, throttle } = scripted();
    await throttle.countAttempt(EMAIL, undefined);
    assert.deepEqual(calls, [["hit", `login:account:${EMAIL}`, LIMITS.windowSeconds, LIMITS.accountFailures]]);
  });

  test("an address over its failures: 429 at once, nothing else counted", async () => {
    const { calls, throttle } = scripted({ refuse: { [`login:address:${IP}`]: 42 } });
    await rateLimited(throttle.countAttempt(EMAIL, IP), 42, FAILED);
    assert.deepEqual(calls, loginHits(IP, EMAIL).slice(0, 1));
  });

  test("an address over its logins: 429, and the failure it counted is given back", async () => {
    const { calls, throttle } = scripted({ refuse: { [`login:address-success:${IP}`]: 17 } });
    await rateLimited(throttle.countAttempt(EMAIL, IP), 17, "Too many logins from this address; try again later.");
    assert.deepEqual(calls, [...loginHits(IP, EMAIL).slice(0, 2), ["release", `login:address:${IP}`]]);
  });

  test("an account over its failures: 429, and both address counts are given back", async () => {
    const { calls, throttle } = scripted({ refuse: { [`login:account:${EMAIL}`]: 300 } });
    await rateLimited(throttle.countAttempt(EMAIL, IP), 300, FAILED);
    assert.deepEqual(calls.slice(0, 3), loginHits(IP, EMAIL));
    assert.deepEqual(
      calls.slice(3).sort(),
      [
        ["release", `login:address-success:${IP}`],
        ["release", `login:address:${IP}`],
      ].sort(),
    );
  });

  test("an account over its failures without an address: 429, nothing to give back", async () => {
    const { calls, throttle } = scripted({ refuse: { [`login:account:${EMAIL}`]: 5 } });
    await rateLimited(throttle.countAttempt(EMAIL, undefined), 5, FAILED);
    assert.equal(calls.length, 1);
  });

  test("a right password resets the account and keeps the attempt as the address's success only", async () => {
    const { calls, throttle } = scripted();
    await throttle.succeeded(EMAIL, IP);
    assert.deepEqual(calls, [
      ["reset", `login:account:${EMAIL}`],
      ["release", `login:address:${IP}`],
    ]);
    const bare = scripted();
    await bare.throttle.succeeded(EMAIL, undefined);
    assert.deepEqual(bare.calls, [["reset", `login:account:${EMAIL}`]]);
  });

  test("a right password with a second factor due: the address keeps a success, the account's count stays", async () => {
    const { calls, throttle } = scripted();
    await throttle.passwordAccepted(IP);
    await throttle.passwordAccepted(undefined);
    assert.deepEqual(calls, [["release", `login:address:${IP}`]]);
  });

  test("a completed sign-in resets the account only", async () => {
    const { calls, throttle } = scripted();
    await throttle.accountSucceeded(EMAIL);
    assert.deepEqual(calls, [["reset", `login:account:${EMAIL}`]]);
  });

  test("a wrong password gives back the address's success, and only that", async () => {
    const { calls, throttle } = scripted();
    await throttle.failed(IP);
    await throttle.failed(undefined);
    assert.deepEqual(calls, [["release", `login:address-success:${IP}`]]);
  });

  test("a wrong second factor at sign-in counts against the account's login failures", async () => {
    const { calls, throttle } = scripted();
    await throttle.secondFactorFailed(EMAIL);
    assert.deepEqual(calls, [["hit", `login:account:${EMAIL}`, LIMITS.windowSeconds, LIMITS.accountFailures]]);
  });
});

describe("registrations", () => {
  test("counted per address with the registrations limit; refused with 429", async () => {
    const { calls, throttle } = scripted();
    await throttle.countRegistration(IP);
    assert.deepEqual(calls, [["hit", `register:address:${IP}`, LIMITS.windowSeconds, LIMITS.registrations]]);
    const full = scripted({ refuse: { [`register:address:${IP}`]: 9 } });
    await rateLimited(full.throttle.countRegistration(IP), 9, "Too many registrations from this address; try again later.");
  });

  test("without an address nothing is counted", async () => {
    const { calls, throttle } = scripted({ fail: true });
    await throttle.countRegistration(undefined);
    assert.deepEqual(calls, []);
  });
});

describe("mail requests", () => {
  for (const kind of ["forgot", "resend"] as const) {
    test(`${kind}: counted per address and per email, each kind apart, with the login limits`, async () => {
      const { calls, throttle } = scripted();
      await throttle.countMailRequest(kind, EMAIL, IP);
      assert.deepEqual(calls, [
        ["hit", `${kind}:address:${IP}`, LIMITS.windowSeconds, LIMITS.addressFailures],
        ["hit", `${kind}:account:${EMAIL}`, LIMITS.windowSeconds, LIMITS.accountFailures],
      ]);
    });
  }

  test("without an address, the email alone", async () => {
    const { calls, throttle } = scripted();
    await throttle.countMailRequest("forgot", EMAIL, undefined);
    assert.deepEqual(calls, [["hit", `forgot:account:${EMAIL}`, LIMITS.windowSeconds, LIMITS.accountFailures]]);
  });

  test("an address over its limit: 429 at once", async () => {
    const { calls, throttle } = scripted({ refuse: { [`forgot:address:${IP}`]: 12 } });
    await rateLimited(throttle.countMailRequest("forgot", EMAIL, IP), 12, "Too many requests from this address; try again later.");
    assert.equal(calls.length, 1);
  });

  test("an email over its limit: 429, and the address's count is given back", async () => {
    const { calls, throttle } = scripted({ refuse: { [`resend:account:${EMAIL}`]: 13 } });
    await rateLimited(throttle.countMailRequest("resend", EMAIL, IP), 13, "Too many requests for this address; try again later.");
    assert.deepEqual(calls.at(-1), ["release", `resend:address:${IP}`]);
    assert.equal(calls.length, 3);
    const bare = scripted({ refuse: { [`resend:account:${EMAIL}`]: 13 } });
    await rateLimited(
      bare.throttle.countMailRequest("resend", EMAIL, undefined),
      13,
      "Too many requests for this address; try again later.",
    );
    assert.equal(bare.calls.length, 1, "no address, nothing to give back");
  });
});

describe("password re-checks", () => {
  test("counted per session, 5 per 15 minutes (fixed by the contract)", async () => {
    assert.equal(RECHECK_FAILURES, 5);
    assert.equal(RECHECK_WINDOW_SECONDS, 900);
    const { calls, throttle } = scripted({ count: 4 });
    assert.deepEqual(await throttle.countRecheck("session-1"), { allowed: true, failuresIfWrong: 4 });
    assert.deepEqual(calls, [["hit", "recheck:session:session-1", 900, 5]]);
  });

  test("a spent allowance is not allowed (no 429: the caller revokes the session)", async () => {
    const { throttle } = scripted({ refuse: { "recheck:session:session-1": 60 } });
    assert.deepEqual(await throttle.countRecheck("session-1"), { allowed: false });
  });

  test("a right re-check gives its count back", async () => {
    const { calls, throttle } = scripted();
    await throttle.releaseRecheck("session-1");
    assert.deepEqual(calls, [["release", "recheck:session:session-1"]]);
  });
});

describe("second-factor codes", () => {
  test("10 wrong codes per account per hour, then 429", async () => {
    assert.equal(SECOND_FACTOR_FAILURES, 10);
    assert.equal(SECOND_FACTOR_WINDOW_SECONDS, 3600);
    const { calls, throttle } = scripted();
    await throttle.countSecondFactor("user-1");
    assert.deepEqual(calls, [["hit", "mfa:account:user-1", 3600, 10]]);
    const full = scripted({ refuse: { "mfa:account:user-1": 1800 } });
    await rateLimited(full.throttle.countSecondFactor("user-1"), 1800, "Too many wrong codes for this account; try again later.");
  });

  test("a right code gives its count back", async () => {
    const { calls, throttle } = scripted();
    await throttle.secondFactorSucceeded("user-1");
    assert.deepEqual(calls, [["release", "mfa:account:user-1"]]);
  });
});

describe("service clients", () => {
  test("introspection: 6000 per client per minute, then 429", async () => {
    assert.equal(INTROSPECTIONS_PER_MINUTE, 6000);
    const { calls, throttle } = scripted();
    await throttle.countIntrospection("client-1");
    assert.deepEqual(calls, [["hit", "introspect:client:client-1", 60, 6000]]);
    const full = scripted({ refuse: { "introspect:client:client-1": 30 } });
    await rateLimited(full.throttle.countIntrospection("client-1"), 30, "Too many introspection requests; try again later.");
  });

  test("a failed client authentication counts against the address, as failed logins do", async () => {
    const { calls, throttle } = scripted();
    await throttle.countClientFailure(IP);
    await throttle.countClientFailure(undefined);
    assert.deepEqual(calls, [["hit", `introspect:address:${IP}`, LIMITS.windowSeconds, LIMITS.addressFailures]]);
    const full = scripted({ refuse: { [`introspect:address:${IP}`]: 8 } });
    await rateLimited(full.throttle.countClientFailure(IP), 8, FAILED);
  });
});

describe("refusals and failures", () => {
  test("Retry-After is at least one second (a window that ends now still says 1)", async () => {
    for (const [retryAfter, expected] of [
      [0, 1],
      [-3, 1],
      [1, 1],
      [2, 2],
    ] as const) {
      const { throttle } = scripted({ refuse: { [`register:address:${IP}`]: retryAfter } });
      await rateLimited(throttle.countRegistration(IP), expected, "Too many registrations from this address; try again later.");
    }
  });

  test("a counter store that does not answer fails closed: 503, nothing of its error", async () => {
    const { throttle } = scripted({ fail: true });
    const operations: Array<[string, () => Promise<unknown>]> = [
      ["countAttempt", () => throttle.countAttempt(EMAIL, IP)],
      ["countAttempt without address", () => throttle.countAttempt(EMAIL, undefined)],
      ["succeeded", () => throttle.succeeded(EMAIL, IP)],
      ["accountSucceeded", () => throttle.accountSucceeded(EMAIL)],
      ["passwordAccepted", () => throttle.passwordAccepted(IP)],
      ["failed", () => throttle.failed(IP)],
      ["countRegistration", () => throttle.countRegistration(IP)],
      ["countMailRequest", () => throttle.countMailRequest("forgot", EMAIL, IP)],
      ["countRecheck", () => throttle.countRecheck("s")],
      ["releaseRecheck", () => throttle.releaseRecheck("s")],
      ["countSecondFactor", () => throttle.countSecondFactor("u")],
      ["secondFactorSucceeded", () => throttle.secondFactorSucceeded("u")],
      ["secondFactorFailed", () => throttle.secondFactorFailed(EMAIL)],
      ["countIntrospection", () => throttle.countIntrospection("c")],
      ["countClientFailure", () => throttle.countClientFailure(IP)],
    ];
    for (const [name, run] of operations) {
      await assert.rejects(run(), (error: unknown) => {
        assert.ok(error instanceof AuthError, `${name}: ${String(error)}`);
        assert.equal(error.code, "service_unavailable", name);
        assert.equal(error.status, 503, name);
        assert.ok(!error.message.includes("redis") && !error.message.includes("refused"), `${name}: ${error.message}`);
        return true;
      });
    }
  });

  test("close closes the counter store", async () => {
    const { calls, throttle } = scripted();
    await throttle.close();
    assert.deepEqual(calls, [["close"]]);
  });
});
