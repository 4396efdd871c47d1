import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createAuth } from "../src/create-auth.js";
import { sample, scrape } from "./support/metrics.js";
import { startNode, type Node } from "./support/nodes.js";
import { TEST_SECRET, uniqueEmail } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

describe("metrics, request ids and request logs of a running server (docs/api.md section 10)", () => {
  let node: Node;
  let metricsUrl: string;

  before(async () => {
    node = await startNode({ TOKENVER_DATABASE_URL: "sqlite::memory:", TOKENVER_SECRET: TEST_SECRET, TOKENVER_METRICS_PORT: "0" });
    metricsUrl = /Metrics listening at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(node.output())![1]!;
  });
  after(() => node?.stop());

  test("every series moves as requests are made; labels carry route templates and codes, never user data", async () => {
    const api = node.api;
    const at = async () => (await scrape(metricsUrl)).text;
    const diff = (before: string, after: string, name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);

    let before = await at();
    const email = uniqueEmail();
    const signIn = await api.register(email, PASSWORD);
    let now = await at();
    assert.equal(diff(before, now, "tokenver_http_requests_total", { method: "POST", route: "/register", status: "201" }), 1);
    assert.equal(diff(before, now, "tokenver_http_request_duration_seconds_count", { method: "POST", route: "/register" }), 1);
    assert.equal(diff(before, now, "tokenver_password_hash_seconds_count"), 1);

    before = now;
    const second = await api.login(email, PASSWORD);
    assert.equal((await api.post("/login", { email, password: "not the password at all" })).status, 401);
    now = await at();
    assert.equal(diff(before, now, "tokenver_logins_total", { result: "ok" }), 1);
    assert.equal(diff(before, now, "tokenver_logins_total", { result: "invalid_credentials" }), 1);
    assert.equal(diff(before, now, "tokenver_password_hash_seconds_count"), 2);

    before = now;
    assert.equal((await api.get("/profile", signIn.access)).status, 200);
    assert.equal((await api.get("/profile", signIn.access)).status, 200);
    assert.equal((await api.get("/profile", "not-a-token")).status, 401);
    assert.equal((await api.get("/profile")).status, 401);
    now = await at();
    assert.equal(diff(before, now, "tokenver_verify_total", { result: "ok" }), 2);
    assert.equal(diff(before, now, "tokenver_verify_total", { result: "token_invalid" }), 1);
    assert.equal(diff(before, now, "tokenver_verify_total", { result: "token_missing" }), 1);
    // SQLite answers from the node cache: the second lookup of the session is a hit.
    assert.ok(diff(before, now, "tokenver_revocation_cache_total", { result: "hit" }) >= 1);
    assert.ok(sample(now, "tokenver_revocation_cache_total", { result: "miss" }) >= 1);
    assert.equal(diff(before, now, "tokenver_http_requests_total", { method: "GET", route: "/profile", status: "401" }), 2);

    before = now;
    const sessionId = JSON.parse(Buffer.from(second.access.split(".")[1]!, "base64url").toString()).sid as string;
    assert.equal((await api.request("DELETE", `/sessions/${sessionId}`, { token: signIn.access })).status, 204);
    assert.equal((await api.post("/logout", {}, signIn.access)).status, 204);
    assert.equal((await api.get("/profile", signIn.access)).status, 401);
    now = await at();
    assert.equal(diff(before, now, "tokenver_revocations_total", { kind: "session" }), 1);
    assert.equal(diff(before, now, "tokenver_revocations_total", { kind: "user" }), 1);
    assert.equal(diff(before, now, "tokenver_revocation_commit_seconds_count"), 2);
    assert.equal(diff(before, now, "tokenver_verify_total", { result: "token_revoked" }), 1);
    assert.equal(diff(before, now, "tokenver_http_requests_total", { method: "DELETE", route: "/sessions/:id", status: "204" }), 1);

    assert.equal((await api.get(`/users/${encodeURIComponent(email)}?token=${signIn.refresh}`)).status, 404);
    const scraped = await scrape(metricsUrl);
    assert.equal(scraped.status, 200);
    assert.match(scraped.type ?? "", /^text\/plain; version=0\.0\.4/);
    assert.ok(sample(scraped.text, "tokenver_http_requests_total", { method: "GET", route: "unmatched", status: "404" }) >= 1);
    // The process's default metrics.
    assert.ok(sample(scraped.text, "process_cpu_user_seconds_total") > 0);
    assert.match(scraped.text, /^nodejs_eventloop_lag_seconds /m);
    for (const secret of [email, signIn.user.id, sessionId, signIn.access, signIn.refresh, "/users/"]) {
      assert.ok(!scraped.text.includes(secret), `the metrics carry ${secret}`);
    }
  });

  test("/metrics is served on its own port only", async () => {
    assert.equal((await node.api.get("/metrics")).status, 404);
    assert.equal((await scrape(metricsUrl.replace("/metrics", "/other"))).status, 404);
  });

  test("X-Request-Id is echoed when it is plain, replaced otherwise, on every response", async () => {
    const echoed = await node.api.request("GET", "/health", { headers: { "x-request-id": "trace-01.AB_c" } });
    assert.equal(echoed.headers.get("x-request-id"), "trace-01.AB_c");
    for (const bad of ["has space", "x".repeat(129), "semi;colon", "ünïcode"]) {
      const response = await node.api.request("GET", "/profile", { headers: { "x-request-id": encodeURI(bad) === bad ? bad : "a%b" } });
      assert.equal(response.status, 401);
      assert.match(response.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, bad);
    }
    const unmatched = await node.api.get("/nowhere");
    assert.match(unmatched.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    const malformed = await fetch(`${node.url}/%E0%A4%A`);
    assert.equal(malformed.status, 400);
    assert.match(malformed.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("one JSON line per request with its id; no token, password, cookie or query string in any log line", async () => {
    const api = node.api;
    const email = uniqueEmail();
    const password = "another secret passphrase 7f3a";
    const used: string[] = [email, password];
    const signIn = await api.register(email, password);
    used.push(signIn.access, signIn.refresh);
    const pair = await api.login(email, password);
    used.push(pair.access, pair.refresh);
    const cookie = "tokenver_session=cookie-value-4b1d9e";
    used.push("cookie-value-4b1d9e");
    await api.request("GET", "/profile", { token: pair.access, headers: { cookie, "x-request-id": "log-check-1" } });
    const refreshed = await api.post("/token/refresh", { refresh: pair.refresh });
    assert.equal(refreshed.status, 200, refreshed.text);
    used.push(refreshed.body.access, refreshed.body.refresh);
    const newPassword = "a replacement passphrase 91c2";
    used.push(newPassword);
    const changed = await api.post("/password", { current_password: password, new_password: newPassword }, refreshed.body.access);
    assert.equal(changed.status, 200, changed.text);
    used.push(changed.body.access, changed.body.refresh);
    await api.post("/login", { email, password: "wrong-password-e8d1" });
    used.push("wrong-password-e8d1");
    await api.request("GET", "/profile?access_token=query-secret-5a7c", { token: "garbage-token-c3f0" });
    used.push("query-secret-5a7c", "garbage-token-c3f0", "access_token");
    await api.post("/logout", {}, changed.body.access);
    await api.request("POST", "/login", {
      raw: `{"email":"${email}","password":"${newPassword}"`,
      headers: { "content-type": "application/json" },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const lines = node
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((line) => line.msg === "request");
    const checked = requests.find((line) => line.request_id === "log-check-1");
    assert.deepEqual(
      { method: checked?.method, route: checked?.route, status: checked?.status, duration: typeof checked?.duration },
      { method: "GET", route: "/profile", status: 200, duration: "number" },
    );
    assert.ok(requests.some((line) => line.route === "/token/refresh" && line.status === 200));
    assert.ok(requests.some((line) => line.route === "/profile" && line.status === 401));
    assert.ok(requests.every((line) => typeof line.request_id === "string" && (line.request_id as string).length > 0));
    const output = node.output();
    for (const secret of used) assert.ok(!output.includes(secret), `the log carries ${secret}`);
  });
});

describe("metrics in the library", () => {
  test("each service keeps its own registry; without the option there is none", async () => {
    const options = { databaseUrl: "sqlite::memory:", secret: TEST_SECRET };
    const [one, two, plain] = await Promise.all([
      createAuth({ ...options, metrics: true }),
      createAuth({ ...options, metrics: true }),
      createAuth(options),
    ]);
    try {
      await assert.rejects(one.verify(undefined), { code: "token_missing" });
      await assert.rejects(one.verify("Bearer x.y.z"), { code: "token_invalid" });
      const first = await one.metrics!.registry.metrics();
      const second = await two.metrics!.registry.metrics();
      assert.equal(sample(first, "tokenver_verify_total", { result: "token_missing" }), 1);
      assert.equal(sample(first, "tokenver_verify_total", { result: "token_invalid" }), 1);
      assert.equal(sample(second, "tokenver_verify_total", { result: "token_missing" }), 0);
      assert.equal(plain.metrics, undefined);
    } finally {
      await Promise.all([one.close(), two.close(), plain.close()]);
    }
  });
});
