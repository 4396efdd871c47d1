import type { Kysely } from "kysely";
import type { RevocationChange, RevocationState } from "../store/revocation/state.js";
import type { Database } from "../store/schema.js";
import { isoAt, type Clock } from "./clock.js";
import { failClosed } from "./errors.js";
import { eraseSealsOfSessions } from "../store/queries/browser.js";
import { NO_OBSERVER, type Observer } from "./observer.js";

/** A revoking write: runs in the transaction, returns what it revoked. */
export type RevokingWrite = (trx: Kysely<Database>, now: string, nowMs: number) => Promise<RevocationChange>;

/**
 * The one revocation protocol. Every revoking flow (logout, password change, session delete,
 * reuse detection, and every later one) calls `revoke`; nothing else writes a revocation.
 *
 * before -> commit by the deadline -> after: tell the revocation state what is about to change
 * (with Redis: mark it in flight and have every caching node forget it), commit to the database
 * before the deadline that state gave (its in-flight markers would have expired after it), then
 * tell it the committed change. If the state cannot be told, or the commit would land after the
 * deadline, the request fails (503) rather than report a revocation some node might not honour.
 * docs/architecture.md walks through it on one node and on several; docs/scale-out.md proves it.
 */
export class Revoker {
  readonly #db: Kysely<Database>;
  readonly #state: RevocationState;
  readonly #clock: Clock;
  readonly #observer: Observer;

  constructor(db: Kysely<Database>, state: RevocationState, clock: Clock, observer: Observer = NO_OBSERVER) {
    this.#db = db;
    this.#state = state;
    this.#clock = clock;
    this.#observer = observer;
  }

  async revoke(intent: RevocationChange, write: RevokingWrite): Promise<RevocationChange> {
    const started = performance.now();
    const deadline = await failClosed(() => this.#state.beforeRevoke(intent));
    const nowMs = this.#clock();
    const change = await failClosed(() =>
      this.#db.transaction().execute(async (trx) => {
        const change = await write(trx, isoAt(nowMs), nowMs);
        // A revoked session's sealed grace successors go with it (docs/api.md section 6): the
        // listed sessions, or every session of the user when its version moved.
        if (change.tokenVersion !== undefined || change.sessionIds === undefined) await eraseSealsOfSessions(trx, change.userId, undefined);
        else await eraseSealsOfSessions(trx, change.userId, change.sessionIds);
        if (performance.now() > deadline) throw new Error("the revocation could not commit in time");
        return change;
      }),
    );
    await failClosed(() => this.#state.afterRevoke(change));
    // A user-wide intent that bumped no version changed the user's row (the second factor turned
    // on or off): nodes forgot it before the commit, but one may have read it again since.
    if (intent.sessionIds === undefined && change.tokenVersion === undefined) await this.userChanged(intent.userId);
    // Timed from the announcement to the end of `after`: waiting for the other nodes included.
    this.#observer.revoked(intent.sessionIds === undefined ? "user" : "session", (performance.now() - started) / 1000);
    return change;
  }

  /**
   * After a committed write that changed what a user's row shows without bumping its version (a
   * profile, a role, a verified address, recovery codes): every node that keeps user rows
   * (LocalRevocationCache.readUser) forgets it before this returns. A bump needs no call: a row is
   * only answered for the version it was read at. Never throws: the write has committed, and what
   * it answers (new recovery codes, a session) must reach the caller; a state that cannot tell
   * every node warns (redis/state.ts), and a node may then show the old row for one entry lifetime.
   */
  async userChanged(userId: string): Promise<void> {
    await this.#state.userChanged?.(userId).catch(() => {});
  }
}
