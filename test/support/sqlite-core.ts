// The real `Core` (src/core/context.ts) over a real SQLite store in memory, for unit-speed tests of
// the operations in src/core/ that need the database: the session functions (revokeSession, the
// password re-check, planSession) without an HTTP server. Assembled from the same parts as
// src/core/auth.ts: migrated schema, the node revocation cache over the database state (SQLite's
// default), the Revoker, the Throttle on memory counters, the event recorder and the mail outbox
// (which only queues: nothing is delivered). Nothing of the store is mocked.
//
// What a test can see besides the rows: `revocations`, every call the Revoker made on the
// revocation state, in order (a spy that hands each call on to the real state), and `onBeforeRevoke`,
// a step that runs inside the next `beforeRevoke` (after an operation's checks, before its write):
// where another request's write lands in a race.
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { Core } from "../../src/core/context.js";
import { testCoreConfig } from "./core-config.js";
import { EventRecorder } from "../../src/core/events/recorder.js";
import { Outbox } from "../../src/core/mail/outbox.js";
import { customTransport } from "../../src/core/mail/transport.js";
import { NO_OBSERVER } from "../../src/core/observer.js";
import { HashQueue } from "../../src/core/passwords/hashing.js";
import { Revoker } from "../../src/core/revoke.js";
import { planSession } from "../../src/core/sessions/issue.js";
import { Throttle } from "../../src/core/throttle.js";
import { createAccessTokenSigner, createAccessTokenVerifier, secretKeys } from "../../src/core/tokens/access-token.js";
import type { Principal, RequestContext } from "../../src/core/types.js";
import { profileSchemas } from "../../src/core/validation.js";
import { createVerify } from "../../src/core/verify.js";
import { deriveKey } from "../../src/lib/derive-key.js";
import { MemoryCounterStore } from "../../src/store/counters/counter-store.js";
import { openStore, type Store } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { insertUser } from "../../src/store/queries/users.js";
import { DatabaseRevocationState } from "../../src/store/revocation/database-state.js";
import { LocalRevocationCache } from "../../src/store/revocation/local-cache.js";
import type { RevocationChange, RevocationState } from "../../src/store/revocation/state.js";
import type { EventsTable, SessionsTable } from "../../src/store/schema.js";

const SECRET = "sqlite-core test secret, at least thirty-two characters long";

export interface RevocationCall {
  phase: "before" | "after";
  change: RevocationChange;
}

export interface SqliteCore {
  readonly core: Core;
  readonly store: Store;
  /** Every beforeRevoke and afterRevoke the revocation state was told, in order (cleared by tests at will). */
  readonly revocations: RevocationCall[];
  /** Runs `step` inside the next beforeRevoke only, before the real state is told. */
  onBeforeRevoke(step: () => Promise<void>): void;
  /** `verify()` as the facade builds it: the signature, then the revocation state. */
  verify(accessToken: string): Promise<Principal>;
  /** A new user (no password anyone knows); resolves to the id. */
  addUser(): Promise<string>;
  /** A new live session of the user, persisted by planSession as a login does; its principal and access token. */
  signIn(userId: string, context?: RequestContext): Promise<{ principal: Principal; accessToken: string }>;
  session(sessionId: string): Promise<Selectable<SessionsTable>>;
  /** The events recorded so far (the recorder's queue written first). */
  events(type?: string): Promise<Array<Selectable<EventsTable>>>;
  /** The templates of the mail queued for delivery. */
  mailTemplates(): Promise<string[]>;
  /** Every `onWarning` message of the core, in order. */
  warnings: string[];
  close(): Promise<void>;
}

export async function sqliteCore(options: { clock?: () => number } = {}): Promise<SqliteCore> {
  const clock = options.clock ?? Date.now;
  const warnings: string[] = [];
  const store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
  const config = testCoreConfig(clock, warnings);

  const cache = new LocalRevocationCache(new DatabaseRevocationState(store.db, store.sqlite));
  const revocations: RevocationCall[] = [];
  let pending: (() => Promise<void>) | undefined;
  const spy: RevocationState = {
    get: (sessionId, userId) => cache.get(sessionId, userId),
    beforeRevoke: async (change) => {
      const step = pending;
      pending = undefined;
      if (step !== undefined) await step();
      revocations.push({ phase: "before", change: structuredClone(change) });
      return cache.beforeRevoke(change);
    },
    afterRevoke: async (change) => {
      revocations.push({ phase: "after", change: structuredClone(change) });
      return cache.afterRevoke(change);
    },
    userChanged: (userId) => cache.userChanged(userId),
    ping: () => cache.ping(),
    close: () => cache.close(),
  };

  const tokenConfig = { keys: secretKeys(SECRET), issuer: config.issuer, ttl: config.accessTtl, clockTolerance: 0, clock };
  const events = new EventRecorder(store.db, { onWarning: () => {} });
  const outbox = new Outbox({
    db: store.db,
    transport: customTransport(async () => {}),
    key: deriveKey(SECRET, "tokenver mail outbox v1"),
    from: "tokenver <no-reply@localhost>",
    clock,
    onWarning: () => {},
    deliver: false,
  });
  const core: Core = {
    db: store.db,
    dialect: store.dialect,
    config,
    revoker: new Revoker(store.db, spy, clock),
    userRows: cache,
    throttle: new Throttle(new MemoryCounterStore(clock), config.rateLimit),
    hashQueue: new HashQueue(config.hashQueue),
    deriveKey: (label, length) => deriveKey(SECRET, label, length),
    events,
    sign: createAccessTokenSigner(tokenConfig),
    schemas: profileSchemas({}),
    mail: outbox,
    observer: NO_OBSERVER,
  };
  const verify = createVerify(createAccessTokenVerifier(tokenConfig), spy);

  return {
    core,
    store,
    revocations,
    warnings,
    onBeforeRevoke: (step) => {
      pending = step;
    },
    verify: (accessToken) => verify(`Bearer ${accessToken}`),
    addUser: async () => {
      const id = randomUUID();
      await insertUser(store.db, {
        id,
        email: `${id}@example.test`,
        username: null,
        password_hash: "$argon2id$not-a-real-hash",
        profile: "{}",
        now: new Date(clock()).toISOString(),
      });
      return id;
    },
    signIn: async (userId, context = {}) => {
      const planned = planSession(core, userId, 0, clock(), context);
      await store.db.transaction().execute((trx) => planned.persist(trx));
      const accessToken = core.sign(userId, planned.sessionId, 0);
      return { principal: await verify(`Bearer ${accessToken}`), accessToken };
    },
    session: (sessionId) => store.db.selectFrom("sessions").selectAll().where("id", "=", sessionId).executeTakeFirstOrThrow(),
    events: async (type) => {
      await events.flush();
      let q = store.db.selectFrom("tokenver_events").selectAll().orderBy("id");
      if (type !== undefined) q = q.where("type", "=", type);
      return q.execute();
    },
    mailTemplates: async () => {
      const rows = await store.db.selectFrom("mail_outbox").select("template").orderBy("next_attempt_at").execute();
      return rows.map((r) => r.template);
    },
    close: async () => {
      await events.flush();
      await outbox.close();
      await spy.close();
      await store.close();
    },
  };
}
