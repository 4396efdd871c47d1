import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createAuth, type Auth } from "../src/create-auth.js";
import { AuthError } from "../src/core/errors.js";
import { hashJobsInFlight, stopHashThreads } from "../src/core/passwords/hashing-threads.js";
import { ARGON2_THREADS, HashQueue } from "../src/core/passwords/hashing.js";
import { startServer, TEST_SECRET, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";

// docs/api.md section 3: the password-hashing queue is bounded; when it is full, requests that
// need a hash answer 503 service_unavailable with Retry-After at once instead of waiting; it is
// checked before the account lookup, and the dummy hash of an unknown account waits in it too.

const PASSWORD = "a long and unguessable passphrase";
const WRONG = "definitely not the password";
/** Nothing in these tests may be throttled: only the queue decides. */
const NO_THROTTLE = { accountFailures: 1_000_000, addressFailures: 1_000_000, addressLogins: 1_000_000, registrations: 1_000_000 };

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("HashQueue", () => {
  test("threads + waiting places; the next reservation is refused at once with 503 and Retry-After", () => {
    const queue = new HashQueue(2, 1);
    const tickets = [queue.reserve(), queue.reserve(), queue.reserve()];
    assert.throws(
      () => queue.reserve(),
      (error: unknown) =>
        error instanceof AuthError && error.code === "service_unavailable" && error.status === 503 && error.retryAfter === 1,
    );
    tickets[0]!.release();
    tickets[0]!.release(); // idempotent: gives back one place, not two
    const again = queue.reserve();
    assert.throws(() => queue.reserve(), { code: "service_unavailable" });
    again.release();
  });

  test("at most `threads` runs at once; the others wait in order", async () => {
    const queue = new HashQueue(10, 2);
    const gates = Array.from({ length: 5 }, deferred);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const runs = gates.map((gate, i) => {
      const ticket = queue.reserve();
      return ticket
        .run(async () => {
          running++;
          most = Math.max(most, running);
          order.push(i);
          await gate.promise;
          running--;
        })
        .finally(() => ticket.release());
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [0, 1], "two threads: two runs started");
    for (const gate of gates) gate.resolve();
    await Promise.all(runs);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(most, 2);
  });

  test("a released ticket cannot run work", async () => {
    const ticket = new HashQueue(1, 1).reserve();
    ticket.release();
    await assert.rejects(ticket.run(async () => 1));
  });
});

describe("a full queue, through the library: exact", () => {
  let auth: Auth;
  let known: string;
  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, hashQueue: 1, rateLimit: NO_THROTTLE });
    known = uniqueEmail();
    await auth.register({ email: known, password: PASSWORD });
  });
  after(() => auth.close());

  test("logins of a known and an unknown email, a registration and a password change: all 503 before any queued hash ends", async () => {
    const principal = await auth.verify(`Bearer ${(await auth.login({ email: known, password: PASSWORD })).accessToken}`);
    // Fill every place (ARGON2_THREADS running, 1 waiting) with logins of unknown accounts.
    let settled = 0;
    const fillers = Array.from({ length: ARGON2_THREADS + 1 }, () =>
      auth.login({ email: uniqueEmail(), password: WRONG }).then(
        () => assert.fail("an unknown account signed in"),
        (error: AuthError) => {
          settled++;
          assert.equal(error.code, "invalid_credentials");
        },
      ),
    );
    const refused = await Promise.allSettled([
      auth.login({ email: known, password: PASSWORD }),
      auth.login({ email: known, password: WRONG }),
      auth.login({ email: uniqueEmail(), password: WRONG }),
      auth.register({ email: uniqueEmail(), password: PASSWORD }),
      auth.changePassword(principal, { currentPassword: PASSWORD, newPassword: `${PASSWORD} too` }),
    ]);
    assert.equal(settled, 0, "refused while every queued hash was still under way: nothing waited");
    for (const [i, result] of refused.entries()) {
      assert.equal(result.status, "rejected", `request ${i}`);
      const error = (result as PromiseRejectedResult).reason as AuthError;
      assert.equal(error.code, "service_unavailable", `request ${i}`);
      assert.equal(error.retryAfter, 1, `request ${i}`);
    }
    await Promise.all(fillers);
    // The places came back: everything works again, and the refused requests changed nothing.
    assert.equal((await auth.login({ email: known, password: PASSWORD })).user.email, known);
    assert.equal((await auth.getUser(principal)).tokenVersion, 0, "the refused password change did nothing");
  });
});

describe("a full queue over HTTP", () => {
  let server: TestServer;
  let known: string;
  before(async () => {
    server = await startServer({ hashQueue: 1, rateLimit: NO_THROTTLE });
    known = (await server.api.register()).email;
  });
  after(() => server.close());

  test("503 service_unavailable with Retry-After at once, for known and unknown emails alike", async () => {
    const { api } = server;
    // One client, many connections: the attack of issue 19. Known and unknown emails interleaved.
    const total = ARGON2_THREADS + 1 + 40;
    const start = performance.now();
    const timed = async (email: string) => {
      const response = await api.post("/login", { email, password: WRONG });
      return { response, email, at: performance.now() - start };
    };
    const results = await Promise.all(Array.from({ length: total }, (_, i) => timed(i % 2 === 0 ? known : uniqueEmail())));

    const checked = results.filter((r) => r.response.status === 401);
    const refused = results.filter((r) => r.response.status === 503);
    assert.equal(checked.length + refused.length, total, results.map((r) => r.response.status).join(" "));
    assert.ok(checked.length >= 1, "the queue admitted some");
    for (const r of checked) assert.equal(r.response.body.code, "invalid_credentials");
    for (const r of refused) assertQueueFull(r.response);

    // At once: a refusal means the queue held a waiting hash at that moment, which then still
    // had a whole argon2 run ahead of it; so every 503 came back before the last checked login.
    const lastChecked = Math.max(...checked.map((r) => r.at));
    for (const r of refused)
      assert.ok(r.at < lastChecked, `a 503 after ${r.at.toFixed(1)} ms, the last 401 at ${lastChecked.toFixed(1)} ms`);

    // Nothing about the account: known and unknown emails were both refused, with one same answer.
    const refusedKnown = refused.filter((r) => r.email === known);
    const refusedUnknown = refused.filter((r) => r.email !== known);
    assert.ok(
      refusedKnown.length > 0 && refusedUnknown.length > 0,
      `refused: ${refusedKnown.length} known, ${refusedUnknown.length} unknown`,
    );
    assert.equal(refusedKnown[0]!.response.text, refusedUnknown[0]!.response.text);
    assert.equal(refusedKnown[0]!.response.headers.get("retry-after"), refusedUnknown[0]!.response.headers.get("retry-after"));

    // And the server is usable right after.
    assert.equal((await api.post("/login", { email: known, password: PASSWORD })).status, 200);
  });

  test("registrations go through the same queue", async () => {
    const total = ARGON2_THREADS + 1 + 30;
    const responses = await Promise.all(
      Array.from({ length: total }, () => server.api.post("/register", { email: uniqueEmail(), password: PASSWORD })),
    );
    const created = responses.filter((r) => r.status === 201).length;
    const refused = responses.filter((r) => r.status === 503);
    assert.equal(created + refused.length, total, responses.map((r) => r.status).join(" "));
    assert.ok(refused.length > 0, "a burst of registrations filled the queue");
    for (const r of refused) assertQueueFull(r);
  });
});

function assertQueueFull(response: ApiResponse) {
  assert.equal(response.status, 503);
  assert.equal(response.body.code, "service_unavailable");
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(response.body.access, undefined);
}

describe("a hashing thread that dies during a login, over HTTP", () => {
  let server: TestServer;
  let known: string;
  before(async () => {
    server = await startServer({ rateLimit: NO_THROTTLE });
    known = (await server.api.register()).email;
  });
  after(() => server.close());

  test("503 service_unavailable with Retry-After, nothing of the request in it; the next login signs in", async () => {
    const { api } = server;
    const pending = api.post("/login", { email: known, password: PASSWORD });
    // The server runs in this process: stop the hashing thread once the login's hash is on it.
    const deadline = Date.now() + 5_000;
    while (hashJobsInFlight() === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(hashJobsInFlight(), 1, "the login's hash reached a hashing thread");
    await stopHashThreads();
    const response = await pending;
    assertQueueFull(response);
    assert.equal(response.body.detail, "Passwords cannot be checked right now; try again in a moment.");
    assert.ok(!response.text.includes(PASSWORD) && !response.text.includes(known), response.text);
    // Not taken for a wrong password (that is 401): the thread is replaced and the next try signs in.
    const again = await api.post("/login", { email: known, password: PASSWORD });
    assert.equal(again.status, 200, again.text);
  });
});
