import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../store/schema.js";
import { insertEvents, type EventRow } from "../../store/queries/events.js";
import { commitWithoutSync } from "../../store/durability.js";
import type { EventStats } from "./types.js";

/** What `Core.events` offers the flows (through `recordEvent`, record.ts). */
export interface EventSink {
  /** Queues a row; never throws, never waits. */
  record(row: EventRow): void;
  /** Counts an event a flow could not even build (a bug of the flow, not a failure of the request). */
  reject(): void;
  /** Resolves once what was queued before the call is written or counted as failed; never rejects. */
  flush(): Promise<void>;
}

export interface EventRecorderOptions {
  onWarning: (message: string) => void;
  /** Events held in memory at most; more are dropped and counted (the database is too slow for the rate). */
  maxQueue?: number;
  /** Runs in the transaction that writes a batch: the webhook outbox rows commit with their events. */
  alsoWrite?: (trx: Transaction<Database>, rows: readonly EventRow[]) => Promise<void>;
  /** After a batch committed: the webhook dispatcher is told there is work. */
  afterWrite?: () => void;
}

const BATCH = 500;
const DEFAULT_MAX_QUEUE = 10_000;

/**
 * Writes security events off the request's path. `record()` only appends to a queue; a flush
 * scheduled with `setImmediate` (after the current I/O callbacks, so after the response has been
 * handed to the socket) writes everything queued in one transaction per 500 rows. Under load the
 * queue fills between flushes, so events are written in batches with one commit each.
 *
 * The durability trade-off (docs/operations.md, "Events and webhooks"): an event lives only in
 * memory from the moment its request answers until its batch commits, typically under a
 * millisecond on SQLite and a round trip on PostgreSQL; a crash in that window loses it. A
 * database that does not answer loses the batch: logged through `onWarning` (one line per batch,
 * no content) and counted in `stats().failed`, never thrown at a request. `close()` writes what is
 * queued before the store closes.
 */
export class EventRecorder implements EventSink {
  readonly #db: Kysely<Database>;
  readonly #options: EventRecorderOptions;
  readonly #maxQueue: number;
  #queue: EventRow[] = [];
  #scheduled = false;
  /** The chain of flushes: each one writes what was queued when it started running. */
  #tail: Promise<void> = Promise.resolve();
  readonly #stats: EventStats = { recorded: 0, written: 0, failed: 0, dropped: 0 };

  constructor(db: Kysely<Database>, options: EventRecorderOptions) {
    this.#db = db;
    this.#options = options;
    this.#maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  }

  record(row: EventRow): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.recorded++;
    this.#queue.push(row);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  reject(): void {
    this.#stats.dropped++;
  }

  /** Resolves once every event recorded before the call is written (or counted as failed). Never rejects. */
  flush(): Promise<void> {
    const run = this.#tail.then(() => this.#writeQueued());
    this.#tail = run;
    return run;
  }

  stats(): EventStats {
    return { ...this.#stats };
  }

  async #writeQueued(): Promise<void> {
    let wrote = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, BATCH);
      try {
        // Lost to a power failure at worst, as a crash loses what is still queued (store/durability.ts).
        await commitWithoutSync(this.#db, async (trx) => {
          await insertEvents(trx, batch);
          await this.#options.alsoWrite?.(trx, batch);
        });
        this.#stats.written += batch.length;
        wrote = true;
      } catch {
        this.#stats.failed += batch.length;
        // No content of the events and no driver message (it may carry SQL or a URL).
        this.#options.onWarning(`security events: ${batch.length} could not be written (the database did not answer) and are lost`);
      }
    }
    if (wrote) this.#options.afterWrite?.();
  }
}
