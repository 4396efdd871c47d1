import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import * as outbox from "../../store/queries/mail-outbox.js";
import type { Database } from "../../store/schema.js";
import { isoAt, type Clock } from "../clock.js";
import type { MailMessage, MailQueue, QueuedMail } from "./message.js";
import { open, seal } from "./seal.js";
import { render, type TemplateName } from "./templates.js";
import { failureCode, type MailTransport } from "./transport.js";

/** Waits after the 1st, 2nd, ... failed attempt, seconds; after the last one the mail is given up. */
export const MAIL_BACKOFF_SECONDS = [30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600] as const;
/** How long a node holds a mail it is sending: far above the transport's own timeouts. */
export const MAIL_LEASE_SECONDS = 300;
/** How often every node looks for due mail (what others queued, retries, leases that ran out). */
export const MAIL_POLL_MS = 1000;
const BATCH = 20;

export interface OutboxOptions {
  db: Kysely<Database>;
  transport: MailTransport;
  /** The payload key (core/mail/seal.ts), derived from the server secret. */
  key: Buffer;
  from: string;
  clock: Clock;
  onWarning: (message: string) => void;
  /** Whether this process delivers (a short-lived CLI command only queues). */
  deliver: boolean;
}

/**
 * The durable outbox and its worker (docs/recovery.md, "The outbox"). `enqueue` only inserts a
 * row (no request waits for SMTP, and a mail queued in a transaction exists exactly when that
 * commits); the worker, on every node, claims due rows one at a time with a lease (one conditional
 * update: one node sends a given mail), hands each to the transport, and deletes it, or records
 * the failure's code and retries with backoff. A restart loses nothing: the row stays until sent;
 * a node that dies mid-send leaves a lease that runs out, and another node sends the mail again
 * (at least once).
 */
export class Outbox implements MailQueue {
  readonly #options: OutboxOptions;
  readonly #owner = randomUUID();
  readonly #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
    if (options.deliver) {
      this.#timer = setInterval(() => this.kick(), MAIL_POLL_MS);
      this.#timer.unref();
    }
  }

  async enqueue<T extends TemplateName>(mail: QueuedMail<T>, db: Kysely<Database> = this.#options.db): Promise<void> {
    const { subject, text, html } = render(mail.template, mail.data);
    const message: MailMessage = { from: this.#options.from, to: mail.to, subject, text, html };
    const id = randomUUID();
    const payload = seal(this.#options.key, id, JSON.stringify(message));
    await outbox.insertOutboxMail(db, { id, template: mail.template, payload, now: isoAt(this.#options.clock()) });
    // Inside a transaction the row shows once it commits: look a moment later (the poll is the backstop).
    if (this.#options.deliver) setTimeout(() => this.kick(), 20).unref();
  }

  /** Looks for due mail now (coalesced with a pass already under way). */
  kick(): void {
    if (this.#closed) return;
    if (this.#draining !== undefined) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /** Resolves once a pass under way has ended; no pass starts after. Mail still queued stays for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#draining;
    this.#options.transport.close();
  }

  async #drain(): Promise<void> {
    const { db, clock, onWarning } = this.#options;
    try {
      do {
        this.#again = false;
        const due = await outbox.selectDueMail(db, isoAt(clock()), BATCH);
        for (const row of due) {
          if (this.#closed) return;
          await this.#attempt(row);
        }
        if (due.length === BATCH) this.#again = true;
      } while (this.#again && !this.#closed);
    } catch {
      onWarning("mail outbox: the database did not answer; will retry");
    }
  }

  async #attempt(row: outbox.OutboxRow): Promise<void> {
    const { db, clock, transport, key, onWarning } = this.#options;
    const nowMs = clock();
    if (!(await outbox.claimMail(db, row.id, this.#owner, isoAt(nowMs), isoAt(nowMs + MAIL_LEASE_SECONDS * 1000)))) return;
    const attempt = row.attempts + 1;
    let code: string | undefined;
    try {
      await transport.send(row.id, JSON.parse(open(key, row.id, row.payload)) as MailMessage);
    } catch (error) {
      code = failureCode(error);
    }
    // Sent: if this delete does not land, the lease runs out and the mail goes again (at least once).
    if (code === undefined) return outbox.deleteSentMail(db, row.id, this.#owner);
    const giveUp = attempt > MAIL_BACKOFF_SECONDS.length;
    const waitSeconds = MAIL_BACKOFF_SECONDS[Math.min(attempt, MAIL_BACKOFF_SECONDS.length) - 1]!;
    await outbox.recordMailFailure(db, row.id, this.#owner, {
      error: code,
      nextAttemptAt: isoAt(clock() + waitSeconds * 1000),
      giveUp,
    });
    // The mail's id and template, the attempt and the code: never its address, content or a credential.
    onWarning(
      giveUp
        ? `mail ${row.id} (${row.template}) not delivered after ${attempt} attempts (${code}): given up`
        : `mail ${row.id} (${row.template}) not delivered, attempt ${attempt} (${code}); retrying in ${waitSeconds} s`,
    );
  }
}
