// The facade (src/core/auth.ts) assembled as createAuth() assembles it (assembleAuth), over a real
// SQLite store in memory, with the parts a test needs to see or steer: a manual clock, a mail
// transport that keeps what it is handed, and, at will, the signing keys (openKeys, as createAuth
// opens them), metrics, webhooks, another revocation state or the start-up's key event. Nothing of
// the store is mocked. Shared by the unit files of this folder.
import { assembleAuth, type Auth } from "../../../../src/core/auth.js";
import type { CoreConfig } from "../../../../src/core/config.js";
import { testCoreConfig } from "../../../support/core-config.js";
import type { KeysContext } from "../../../../src/core/keys/keys-context.js";
import type { SigningAlg } from "../../../../src/core/keys/material.js";
import { openKeys } from "../../../../src/core/keys/open-keys.js";
import type { MailMessage } from "../../../../src/core/mail/message.js";
import { customTransport } from "../../../../src/core/mail/transport.js";
import { prepareDummyHash } from "../../../../src/core/passwords/hashing.js";
import { loadPasswordPolicy } from "../../../../src/core/passwords/policy.js";
import type { WebhookSettings } from "../../../../src/core/webhooks/settings.js";
import type { Metrics } from "../../../../src/metrics/metrics.js";
import { MemoryCounterStore } from "../../../../src/store/counters/counter-store.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { DatabaseRevocationState } from "../../../../src/store/revocation/database-state.js";
import { LocalRevocationCache } from "../../../../src/store/revocation/local-cache.js";
import type { RevocationState } from "../../../../src/store/revocation/state.js";

export const SECRET = "auth facade unit test secret, at least thirty-two characters";
export const PASSWORD = "a long and unguessable passphrase";
export const T0 = Date.parse("2031-05-06T07:08:09.000Z");
export const DAY_MS = 86_400_000;

export interface AuthWorldOptions {
  config?: Partial<CoreConfig>;
  /** Open the signing keys as createAuth does (keyRotation in seconds, 0: none). */
  keys?: boolean | { keyRotation?: number; alg?: SigningAlg };
  keysStarted?: { kid: string; reason: string };
  metrics?: Metrics;
  webhooks?: WebhookSettings;
  /** The revocation state (default: the node cache over the database, SQLite's default). */
  revocation?: (store: Store) => RevocationState;
  /** No `mail` part: the facade's default (.eml files under ./data/outbox of the working directory). */
  defaultMail?: boolean;
  /** An existing store (a file) instead of a new one in memory. */
  store?: Store;
}

export interface AuthWorld {
  readonly auth: Auth;
  readonly store: Store;
  readonly time: { ms: number };
  readonly keys: KeysContext | undefined;
  /** Every mail the transport was handed, in order. */
  readonly mails: MailMessage[];
  readonly warnings: string[];
  /** How many times the facade closed the revocation state and the counter store. */
  readonly closed: { revocation: number; counters: number };
  /** A registered user's email, id and first pair. */
  register(tag?: string): Promise<{ email: string; userId: string; accessToken: string; refreshToken: string }>;
  events(type?: string): Promise<Array<{ type: string; actor: string; user_id: string | null; detail: Record<string, unknown> }>>;
  close(): Promise<void>;
}

let counter = 0;

export function coreConfig(time: { ms: number }, warnings: string[], config: Partial<CoreConfig> = {}): CoreConfig {
  return testCoreConfig(() => time.ms, warnings, {
    issuer: "tokenver-auth-unit",
    publicUrl: "https://auth.example/base",
    allowedOrigins: ["https://auth.example", "https://app.example"],
    ...config,
  });
}

export async function authWorld(options: AuthWorldOptions = {}): Promise<AuthWorld> {
  await Promise.all([loadPasswordPolicy(), prepareDummyHash()]);
  const time = { ms: T0 };
  const warnings: string[] = [];
  const mails: MailMessage[] = [];
  const store = options.store ?? (await openStore("sqlite::memory:"));
  if (options.store === undefined) await migrateToLatest(store.db);
  const config = coreConfig(time, warnings, options.config);
  let keys: KeysContext | undefined;
  let keysStarted = options.keysStarted;
  if (options.keys) {
    const opened = await openKeys(store.db, SECRET, {
      signingAlg: (typeof options.keys === "object" ? options.keys.alg : undefined) ?? "HS256",
      signingKey: undefined,
      keyPublishDelay: 300,
      keyRotation: typeof options.keys === "object" ? (options.keys.keyRotation ?? 0) : 0,
      accessTtl: config.accessTtl,
      clockTolerance: config.clockTolerance,
      clock: config.clock,
      keysClock: async () => time.ms,
      onWarning: config.onWarning,
    });
    keys = opened.keys;
    keysStarted ??= opened.started;
  }
  const revocation = options.revocation?.(store) ?? new LocalRevocationCache(new DatabaseRevocationState(store.db, store.sqlite));
  const counters = new MemoryCounterStore(config.clock);
  const closed = { revocation: 0, counters: 0 };
  // Counted, then handed on to the real close (the instance keeps its class: the facade checks it).
  const closeRevocation = revocation.close.bind(revocation);
  revocation.close = () => {
    closed.revocation++;
    return closeRevocation();
  };
  const closeCounters = counters.close.bind(counters);
  counters.close = () => {
    closed.counters++;
    return closeCounters();
  };
  const auth = assembleAuth({
    store,
    revocation,
    counters,
    config,
    secret: SECRET,
    ...(options.defaultMail
      ? {}
      : {
          mail: {
            transport: customTransport(async (message) => {
              mails.push(message);
            }),
            from: "Facade Test <auth@example.test>",
          },
        }),
    keys,
    keysStarted,
    ...(options.metrics && { metrics: options.metrics }),
    webhooks: options.webhooks,
  });
  return {
    auth,
    store,
    time,
    keys,
    mails,
    warnings,
    closed,
    register: async (tag = "user") => {
      const email = `${tag}-${counter++}@example.test`;
      const signIn = await auth.register({ email, password: PASSWORD });
      return { email, userId: signIn.user.id, accessToken: signIn.accessToken, refreshToken: signIn.refreshToken };
    },
    events: async (type) => {
      await auth.flushEvents();
      let q = store.db.selectFrom("tokenver_events").selectAll().orderBy("id");
      if (type !== undefined) q = q.where("type", "=", type);
      const rows = await q.execute();
      return rows.map((r) => ({ type: r.type, actor: r.actor, user_id: r.user_id, detail: JSON.parse(r.detail ?? "{}") }));
    },
    close: () => auth.close(),
  };
}

/** Resolves once `condition()` holds; fails after `ms` (a generous bound on a loaded machine). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
