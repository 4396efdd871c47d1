import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import type { Observer } from "../core/observer.js";

/**
 * The Prometheus series of docs/api.md section 10, in a registry of one auth service (never
 * prom-client's global one: several services in one process keep apart). Labels come from fixed
 * sets (route templates, error codes, outcomes), never from user data.
 */
export class Metrics {
  /** The registry to expose (`await registry.metrics()` is the text format; `registry.contentType` its type). */
  readonly registry = new Registry();
  readonly observer: Observer;
  readonly #requests: Counter<"method" | "route" | "status">;
  readonly #requestSeconds: Histogram<"method" | "route">;

  constructor() {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "tokenver_http_requests_total",
      help: "HTTP requests answered, by method, route template and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.#requestSeconds = new Histogram({
      name: "tokenver_http_request_duration_seconds",
      help: "Time from a request's arrival to its response, by method and route template",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    // The verify path's counts are plain numbers, copied into the series when scraped: an increment
    // of prom-client's own costs a label lookup per request, this one an addition.
    let verifiedOk = 0;
    const verifyCounts = new Map<string, number>();
    new Counter({
      name: "tokenver_verify_total",
      help: "Access-token verifications, by result: ok or the error code",
      labelNames: ["result"],
      registers,
      collect() {
        this.reset();
        this.inc({ result: "ok" }, verifiedOk);
        for (const [result, count] of verifyCounts) this.inc({ result }, count);
      },
    });
    const logins = new Counter({
      name: "tokenver_logins_total",
      help: "Login attempts, by result: ok or the error code",
      labelNames: ["result"],
      registers,
    });
    const revocations = new Counter({
      name: "tokenver_revocations_total",
      help: "Committed revocations, by kind: user (a token-version bump) or session",
      labelNames: ["kind"],
      registers,
    });
    const commitSeconds = new Histogram({
      name: "tokenver_revocation_commit_seconds",
      help: "Time a revocation takes to be in force everywhere: telling the other nodes, the commit, and after",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const lookups = { hit: 0, miss: 0 };
    new Counter({
      name: "tokenver_revocation_cache_total",
      help: "Revocation-state lookups of the node cache: hit (answered from memory) or miss (read through)",
      labelNames: ["result"],
      registers,
      collect() {
        this.reset();
        this.inc({ result: "hit" }, lookups.hit);
        this.inc({ result: "miss" }, lookups.miss);
      },
    });
    const hashSeconds = new Histogram({
      name: "tokenver_password_hash_seconds",
      help: "Time of one argon2id run (hash or verification), not counting the wait for a thread",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
    this.observer = {
      verified: (result) => {
        if (result === "ok") verifiedOk++;
        else verifyCounts.set(result, (verifyCounts.get(result) ?? 0) + 1);
      },
      loggedIn: (result) => logins.inc({ result }),
      revoked: (kind, seconds) => {
        revocations.inc({ kind });
        commitSeconds.observe(seconds);
      },
      cacheLookup: (hit) => (hit ? lookups.hit++ : lookups.miss++),
      passwordHashed: (seconds) => hashSeconds.observe(seconds),
    };
  }

  /** One answered request: `route` is the matched route's template, or one label for all unmatched ones. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status });
    this.#requestSeconds.observe({ method, route }, seconds);
  }
}
