import type { Kysely } from "kysely";
import type { TObject } from "typebox";
import type { Dialect } from "../store/database.js";
import type { Database } from "../store/schema.js";
import type { CoreConfig } from "./config.js";
import type { EventSink } from "./events/recorder.js";
import type { Revoker } from "./revoke.js";
import type { UserRowCache } from "../store/revocation/state.js";
import type { HashQueue } from "./passwords/hashing.js";
import type { Throttle } from "./throttle.js";
import type { MailQueue } from "./mail/message.js";
import type { Observer } from "./observer.js";

/** What every operation of the domain works with: built once by the facade (auth.ts). */
export interface Core {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly config: CoreConfig;
  /** The one revocation protocol (revoke.ts). */
  readonly revoker: Revoker;
  /**
   * Where `getUser` reads the caller's row: the node's cache, exact by the revocation protocol
   * (a writer of the row calls `revoker.userChanged` after its commit), or straight through.
   */
  readonly userRows: UserRowCache;
  readonly throttle: Throttle;
  /** The bounded hashing queue: every argon2 run of a request goes through a ticket of it. */
  readonly hashQueue: HashQueue;
  /**
   * A key for one purpose derived from the server secret (HKDF-SHA-256; `label` names the purpose,
   * e.g. "tokenver csrf v1"). The secret itself stays out of `Core`.
   */
  readonly deriveKey: (label: string, length?: number) => Buffer;
  /** Security events: record them with `recordEvent(core, ...)` (events/record.ts), never directly. */
  readonly events: EventSink;
  /** Signs an access token for a session at a token version, with the session's `amr` (default `["pwd"]`). */
  readonly sign: (userId: string, sessionId: string, tokenVersion: number, amr?: readonly string[]) => string;
  /** The custom user fields: the whole profile (registration) and a patch of it. */
  readonly schemas: { readonly profile: TObject; readonly patch: TObject };
  /**
   * The durable mail outbox (core/mail/): `core.mail.enqueue({ to, template, data }, trx)`, or
   * `queueNotice(core, userId, template, data, trx)` (core/mail/notice.ts) for the stored address.
   */
  readonly mail: MailQueue;
  /** Where operations report outcomes and durations for metrics; NO_OBSERVER (observer.ts) by default. */
  readonly observer: Observer;
}
