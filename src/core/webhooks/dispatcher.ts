import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { Webhook } from "standardwebhooks";
import * as outbox from "../../store/queries/webhooks.js";
import type { Database } from "../../store/schema.js";
import { isoAt, type Clock } from "../clock.js";
import { backoffAfter } from "./backoff.js";
import { signedHeaders } from "./payload.js";
import { sendWebhook, TOTAL_TIMEOUT_MS } from "./send.js";
import type { WebhookSettings } from "./settings.js";

const LEASE = "webhooks";
/** Longer than one attempt (10 s): renewed before each one, so it never lapses mid-attempt. */
const LEASE_MS = 3 * TOTAL_TIMEOUT_MS;
const BATCH = 50;
const POLL_MS = 1_000;

export interface DispatcherOptions {
  clock: Clock;
  onWarning: (message: string) => void;
  /** How often the outbox is looked at without a nudge; 0: never on its own (tests run `deliver()`). */
  pollMs?: number;
}

/**
 * Delivers the outbox (docs/api.md section 10, docs/operations.md): at least once, in the
 * background, by one node at a time (a lease in `tokenver_leases`, taken and renewed by one
 * conditional write; SQLite is one process anyway). Each attempt is counted and the next one
 * scheduled before it is made, so a crash or a restart mid-attempt leaves the row to be retried
 * after its backoff: nothing is lost, and nothing is retried in a tight loop. 2xx deletes the
 * row; 410 disables the endpoint (its rows go to the dead-letter table); anything else waits
 * for the next attempt, and the 8th failure is dead-lettered.
 */
export class WebhookDispatcher {
  readonly #db: Kysely<Database>;
  readonly #settings: WebhookSettings;
  readonly #signers: Webhook[];
  readonly #options: DispatcherOptions;
  readonly #holder = randomUUID();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #again = false;
  #stopped = false;

  constructor(db: Kysely<Database>, settings: WebhookSettings, options: DispatcherOptions) {
    this.#db = db;
    this.#settings = settings;
    this.#signers = settings.secrets.map((s) => new Webhook(s));
    this.#options = options;
    const pollMs = options.pollMs ?? POLL_MS;
    if (pollMs > 0) {
      this.#timer = setInterval(() => this.nudge(), pollMs);
      this.#timer.unref();
    }
  }

  get urls(): readonly string[] {
    return this.#settings.urls;
  }

  /** There may be work: run a pass now, or right after the one under way. */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    void this.deliver();
  }

  /** One pass over what is due now; resolves to how many deliveries succeeded. Never rejects. */
  deliver(): Promise<number> {
    if (this.#running !== undefined) return this.#running.then(() => this.deliver());
    const run = this.#pass()
      .catch(() => {
        this.#options.onWarning("webhooks: the outbox could not be read (the database did not answer); will retry");
        return 0;
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again && !this.#stopped) {
          this.#again = false;
          this.nudge();
        }
      });
    this.#running = run;
    return run;
  }

  /** Stops polling, aborts an attempt under way (its row stays, to be retried), gives the lease back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
    await outbox.releaseLease(this.#db, LEASE, this.#holder).catch(() => {});
  }

  async #pass(): Promise<number> {
    let delivered = 0;
    for (;;) {
      if (this.#stopped || !(await this.#lease())) return delivered;
      const now = isoAt(this.#options.clock());
      const due = await outbox.dueDeliveries(this.#db, now, BATCH);
      if (due.length === 0) return delivered;
      const disabled = await outbox.disabledEndpoints(this.#db);
      for (const row of due) {
        if (this.#stopped || !(await this.#lease())) return delivered;
        if (disabled.has(row.url) || !this.#settings.urls.includes(row.url)) {
          // An endpoint that answered 410, or one no longer configured: kept for the operator, not sent.
          await outbox.deadLetter(
            this.#db,
            { id: row.id },
            disabled.has(row.url) ? "endpoint disabled (410 Gone)" : "endpoint no longer configured",
            now,
          );
          continue;
        }
        if (await this.#attempt(row, disabled)) delivered++;
      }
      if (due.length < BATCH) return delivered;
    }
  }

  /** True when the endpoint took it. */
  async #attempt(row: outbox.OutboxRow, disabled: Set<string>): Promise<boolean> {
    const nowMs = this.#options.clock();
    const attempt = row.attempts + 1;
    const wait = backoffAfter(attempt);
    // With no wait left this is the last attempt: should the process die now, it is retried once more.
    const next = isoAt(nowMs + (wait ?? backoffAfter(attempt - 1) ?? 0));
    if (!(await outbox.claimAttempt(this.#db, row, next))) return false;
    const result = await sendWebhook(
      row.url,
      signedHeaders(this.#signers, row.event_id, nowMs, row.payload),
      row.payload,
      this.#abort.signal,
    );
    const now = isoAt(this.#options.clock());
    if ("status" in result && result.status >= 200 && result.status < 300) {
      await outbox.deleteDelivery(this.#db, row.id);
      return true;
    }
    if ("error" in result && result.error === "aborted") return false; // shutting down: the row stays as claimed
    if ("status" in result && result.status === 410) {
      await outbox.disableEndpoint(this.#db, row.url, "410 Gone", now);
      disabled.add(row.url);
      const moved = await outbox.deadLetter(this.#db, { url: row.url }, "endpoint disabled (410 Gone)", now);
      this.#options.onWarning(
        `webhooks: an endpoint answered 410 Gone and is disabled; ${moved} deliveries moved to the dead-letter table`,
      );
      return false;
    }
    const error = "status" in result ? `HTTP ${result.status}` : result.error;
    if (wait === undefined) {
      await outbox.deadLetter(this.#db, { id: row.id }, error, now);
      this.#options.onWarning(`webhooks: a delivery failed ${attempt} times (${error}) and went to the dead-letter table`);
    } else {
      await outbox.recordFailure(this.#db, row.id, error);
    }
    return false;
  }

  /** Takes or renews the lease; false when another node holds it. */
  #lease(): Promise<boolean> {
    const nowMs = this.#options.clock();
    return outbox.takeLease(this.#db, LEASE, this.#holder, isoAt(nowMs), isoAt(nowMs + LEASE_MS));
  }
}
