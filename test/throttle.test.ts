import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { startServer, uniqueEmail, type Api, type ApiResponse, type TestServer } from "./support/server.js";

const WRONG = "definitely not the password";

function login(api: Api, email: string, password: string, forwardedFor?: string) {
  return api.request("POST", "/login", {
    body: { email, password },
    ...(forwardedFor === undefined ? {} : { headers: { "x-forwarded-for": forwardedFor } }),
  });
}

function assertCode(response: ApiResponse, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: status`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

/** 429 rate_limited as problem+json with a positive integer Retry-After of at most the window. */
function assertRateLimited(response: ApiResponse, windowSeconds: number, what: string) {
  assertCode(response, 429, "rate_limited", what);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, `${what}: content type`);
  const retryAfter = response.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^[1-9][0-9]*$/, `${what}: Retry-After is a positive integer`);
  assert.ok(Number(retryAfter) <= windowSeconds, `${what}: Retry-After ${retryAfter} within the window`);
  assert.equal(response.body.access, undefined);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const WINDOW = 600;

for (const dialect of dialects()) {
  describe(`per-account throttling (${dialect})`, () => {
    let server: TestServer;
    let now = Date.parse("2030-03-01T08:00:00Z");
    before(async () => {
      server = await startServer({
        dialect,
        rateLimit: { accountFailures: 3, addressFailures: 1000, windowSeconds: WINDOW },
        clock: () => now,
      });
    });
    after(() => server.close());

    test("after 3 failures the 4th attempt is 429 with Retry-After, even with the right password", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 3; i++) assertCode(await login(api, user.email, WRONG), 401, "invalid_credentials", `failure ${i}`);
      assertRateLimited(await login(api, user.email, WRONG), WINDOW, "4th attempt");
      assertRateLimited(await login(api, user.email, user.password), WINDOW, "correct password on a locked account");
      // Existing sessions are not affected: throttling guards credentials, not tokens.
      assert.equal((await api.get("/profile", user.access)).status, 200);
    });

    test("the account key is the normalised email: case and spaces do not open new counters", async () => {
      const { api } = server;
      const user = await api.register();
      const variants = [user.email.toUpperCase(), `  ${user.email}  `, user.email];
      for (const variant of variants) assertCode(await login(api, variant, WRONG), 401, "invalid_credentials", variant);
      assertRateLimited(await login(api, user.email, user.password), WINDOW, "after failures under three spellings");
    });

    test("unknown accounts are throttled like real ones (no enumeration by the 429)", async () => {
      const { api } = server;
      const nobody = uniqueEmail();
      for (let i = 1; i <= 3; i++) assertCode(await login(api, nobody, WRONG), 401, "invalid_credentials", `failure ${i}`);
      assertRateLimited(await login(api, nobody, WRONG), WINDOW, "unknown account");
    });

    test("a successful login before the limit resets the account's counter", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 2; i++) assertCode(await login(api, user.email, WRONG), 401, "invalid_credentials", `failure ${i}`);
      assert.equal((await login(api, user.email, user.password)).status, 200);
      // A fresh allowance of three failures.
      for (let i = 1; i <= 3; i++) assertCode(await login(api, user.email, WRONG), 401, "invalid_credentials", `after reset ${i}`);
      assertRateLimited(await login(api, user.email, WRONG), WINDOW, "limit reached again");
    });

    test("another account from the same address is unaffected", async () => {
      const { api } = server;
      const locked = await api.register();
      const neighbour = await api.register();
      for (let i = 1; i <= 3; i++) await login(api, locked.email, WRONG);
      assertRateLimited(await login(api, locked.email, locked.password), WINDOW, "locked account");
      assert.equal((await login(api, neighbour.email, neighbour.password)).status, 200);
      assertCode(await login(api, neighbour.email, WRONG), 401, "invalid_credentials", "neighbour's own failure");
    });

    test("parallel guesses cannot overtake the limit: at most 3 of 12 reach the password check", async () => {
      const { api } = server;
      const user = await api.register();
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(api, user.email, `${WRONG} ${i}`)));
      const checked = responses.filter((r) => r.status === 401);
      const limited = responses.filter((r) => r.status === 429);
      assert.equal(checked.length + limited.length, 12, `statuses: ${responses.map((r) => r.status).join(" ")}`);
      assert.ok(checked.length <= 3, `${checked.length} guesses were checked with a limit of 3`);
      for (const r of limited) assert.equal(r.body.code, "rate_limited");
    });

    test("the lock ends when the window does", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 3; i++) await login(api, user.email, WRONG);
      const locked = await login(api, user.email, user.password);
      assertRateLimited(locked, WINDOW, "locked");
      now += Number(locked.headers.get("retry-after")) * 1000;
      assert.equal((await login(api, user.email, user.password)).status, 200, "after Retry-After seconds");
    });
  });

  describe(`per-address throttling (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect, rateLimit: { accountFailures: 1000, addressFailures: 3, windowSeconds: WINDOW } });
    });
    after(() => server.close());

    test("failures across different emails from one address reach the address limit", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 3; i++) assertCode(await login(api, uniqueEmail(), WRONG), 401, "invalid_credentials", `spray ${i}`);
      assertRateLimited(await login(api, uniqueEmail(), WRONG), WINDOW, "a fourth email");
      assertRateLimited(await login(api, user.email, user.password), WINDOW, "even a correct login from the address");
    });

    test("successful logins from the address do not use up its failure allowance", async () => {
      const server = await startServer({ dialect, rateLimit: { accountFailures: 1000, addressFailures: 3, windowSeconds: WINDOW } });
      try {
        const { api } = server;
        const user = await api.register();
        for (let i = 0; i < 5; i++) assert.equal((await login(api, user.email, user.password)).status, 200, `success ${i + 1}`);
        for (let i = 1; i <= 3; i++) assertCode(await login(api, uniqueEmail(), WRONG), 401, "invalid_credentials", `failure ${i}`);
        assertRateLimited(await login(api, uniqueEmail(), WRONG), WINDOW, "the 4th failure");
      } finally {
        await server.close();
      }
    });

    test("a burst of correct logins that overtook the limit in flight leaves the address usable", async () => {
      const server = await startServer({ dialect, rateLimit: { accountFailures: 1000, addressFailures: 3, windowSeconds: WINDOW } });
      try {
        const { api, auth } = server;
        const users = await Promise.all(Array.from({ length: 12 }, () => api.register()));
        // Exact, not a matter of timing: the burst starts in one tick, through the library, from
        // the address of the HTTP client below. Each attempt is counted (in memory) before any
        // of them has checked a password (an argon2 run on another thread), so exactly 3 fit the
        // address's allowance while in flight and 9 are refused.
        const burst = await Promise.allSettled(users.map((u) => auth.login({ email: u.email, password: u.password }, { ip: "127.0.0.1" })));
        assert.equal(burst.filter((r) => r.status === "fulfilled").length, 3, "3 attempts in flight fill the allowance");
        for (const r of burst) if (r.status === "rejected") assert.equal(r.reason.code, "rate_limited");
        // Refused attempts checked no password and gave their counts back; the successes did too.
        for (const u of users) assert.equal((await login(api, u.email, u.password)).status, 200);
        for (let i = 1; i <= 3; i++) assertCode(await login(api, uniqueEmail(), WRONG), 401, "invalid_credentials", `failure ${i}`);
        assertRateLimited(await login(api, uniqueEmail(), WRONG), WINDOW, "the limit still holds for failures");
      } finally {
        await server.close();
      }
    });

    test("parallel guesses from one address cannot overtake its limit", async () => {
      const server = await startServer({ dialect, rateLimit: { accountFailures: 1000, addressFailures: 3, windowSeconds: WINDOW } });
      try {
        const responses = await Promise.all(Array.from({ length: 12 }, () => login(server.api, uniqueEmail(), WRONG)));
        const checked = responses.filter((r) => r.status === 401).length;
        assert.ok(checked <= 3, `${checked} guesses were checked with an address limit of 3`);
        assert.equal(responses.filter((r) => r.status === 429).length, 12 - checked);
      } finally {
        await server.close();
      }
    });
  });
}

for (const dialect of dialects()) {
  describe(`successful logins per address (${dialect})`, () => {
    // Issue 19: successes gave their address count back, so one client could loop correct logins
    // (and registrations) without limit. They now count per address against `addressLogins`.
    let server: TestServer;
    const LIMITS = { accountFailures: 1000, addressFailures: 3, addressLogins: 3, registrations: 1000, windowSeconds: WINDOW };
    before(async () => {
      server = await startServer({ dialect, trustProxy: true, rateLimit: LIMITS });
    });
    after(() => server.close());

    test("beyond addressLogins successes a login from the address is 429 with Retry-After, right password or not", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 3; i++) assert.equal((await login(api, user.email, user.password, "203.0.113.10")).status, 200, `success ${i}`);
      assertRateLimited(await login(api, user.email, user.password, "203.0.113.10"), WINDOW, "the 4th success");
      assertRateLimited(await login(api, user.email, WRONG, "203.0.113.10"), WINDOW, "a guess from the address");
      assert.equal((await login(api, user.email, user.password, "198.51.100.10")).status, 200, "another address");
      assert.equal((await api.get("/profile", user.access)).status, 200, "sessions are not affected");
    });

    test("failures do not use up the successes' allowance, nor successes the failures'", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 2; i++)
        assertCode(await login(api, user.email, WRONG, "203.0.113.11"), 401, "invalid_credentials", `failure ${i}`);
      for (let i = 1; i <= 3; i++) assert.equal((await login(api, user.email, user.password, "203.0.113.11")).status, 200, `success ${i}`);
      assertRateLimited(await login(api, user.email, user.password, "203.0.113.11"), WINDOW, "the 4th success");

      for (let i = 1; i <= 2; i++) assert.equal((await login(api, user.email, user.password, "203.0.113.12")).status, 200, `success ${i}`);
      for (let i = 1; i <= 3; i++)
        assertCode(await login(api, uniqueEmail(), WRONG, "203.0.113.12"), 401, "invalid_credentials", `failure ${i}`);
      assertRateLimited(await login(api, uniqueEmail(), WRONG, "203.0.113.12"), WINDOW, "the 4th failure");
    });

    test("parallel correct logins cannot overtake addressLogins: exactly 3 of 10 succeed", async () => {
      // A failure allowance no burst reaches: only the successes' limit can refuse.
      const own = await startServer({ dialect, trustProxy: true, rateLimit: { ...LIMITS, addressFailures: 1000 } });
      try {
        const user = await own.api.register();
        const burst = await Promise.all(Array.from({ length: 10 }, () => login(own.api, user.email, user.password, "203.0.113.13")));
        assert.equal(burst.filter((r) => r.status === 200).length, 3, burst.map((r) => r.status).join(" "));
        for (const r of burst.filter((r) => r.status !== 200)) assertRateLimited(r, WINDOW, "a login beyond the limit");
      } finally {
        await own.close();
      }
    });
  });
}

describe("X-Forwarded-For", () => {
  test("ignored by default: forwarded addresses share the connection's counter", async () => {
    const server = await startServer({ rateLimit: { accountFailures: 1000, addressFailures: 2, windowSeconds: WINDOW } });
    try {
      const { api } = server;
      assertCode(await login(api, uniqueEmail(), WRONG, "203.0.113.1"), 401, "invalid_credentials", "first");
      assertCode(await login(api, uniqueEmail(), WRONG, "203.0.113.1"), 401, "invalid_credentials", "second");
      assertRateLimited(await login(api, uniqueEmail(), WRONG, "198.51.100.7"), WINDOW, "another forwarded address, same client");
    } finally {
      await server.close();
    }
  });

  test("with trustProxy each forwarded client has its own counter", async () => {
    const server = await startServer({ trustProxy: true, rateLimit: { accountFailures: 1000, addressFailures: 2, windowSeconds: WINDOW } });
    try {
      const { api } = server;
      assertCode(await login(api, uniqueEmail(), WRONG, "203.0.113.1"), 401, "invalid_credentials", "first");
      assertCode(await login(api, uniqueEmail(), WRONG, "203.0.113.1"), 401, "invalid_credentials", "second");
      assertRateLimited(await login(api, uniqueEmail(), WRONG, "203.0.113.1"), WINDOW, "the same forwarded client");
      assertCode(await login(api, uniqueEmail(), WRONG, "198.51.100.7"), 401, "invalid_credentials", "another forwarded client");
    } finally {
      await server.close();
    }
  });
});

describe("login failures look alike", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ rateLimit: { accountFailures: 1000, addressFailures: 1000 } });
  });
  after(() => server.close());

  test("unknown email and wrong password: same status, headers and body", async () => {
    const { api } = server;
    const user = await api.register();
    const unknown = await login(api, uniqueEmail(), WRONG);
    const wrong = await login(api, user.email, WRONG);
    assertCode(unknown, 401, "invalid_credentials", "unknown email");
    assert.equal(wrong.status, unknown.status);
    assert.equal(wrong.text, unknown.text, "identical bodies");
    assert.equal(wrong.headers.get("www-authenticate"), unknown.headers.get("www-authenticate"));
    assert.equal(wrong.headers.get("content-type"), unknown.headers.get("content-type"));
  });

  test("and take about the same time (medians within a factor of two)", async () => {
    // A security property with generous bounds: an unknown email must still cost an argon2
    // verification. Interleaved, so machine noise hits both series alike.
    const { api } = server;
    const user = await api.register();
    const timed = async (email: string) => {
      const start = performance.now();
      const response = await login(api, email, WRONG);
      assert.equal(response.status, 401);
      return performance.now() - start;
    };
    await timed(user.email);
    await timed(uniqueEmail());
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 10; i++) {
      unknown.push(await timed(uniqueEmail()));
      wrong.push(await timed(user.email));
    }
    const [u, w] = [median(unknown), median(wrong)];
    const ratio = Math.max(u, w) / Math.min(u, w);
    assert.ok(ratio < 2, `median unknown ${u.toFixed(1)} ms vs wrong password ${w.toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
  });
});
