// The signing keys (src/core/keys/) over a real SQLite store in memory (test/support/sqlite-core.ts
// makes and migrates it, and gives users and sessions), opened as createAuth() opens them
// (openKeys: the configured key checked, ensureKeys, the ring loaded), with a manual clock shared by
// every "node" of one database (the database's clock, which the key operations use; a node's own
// clock may be skewed from it), a switch that makes the database stop answering, and a signer and a
// verifier over the ring, as the facade builds them. Nothing of the store is mocked. Shared by the
// unit files of this folder.
import type {
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import type { KeyRing } from "../../../../src/core/keys/key-ring.js";
import type { KeysContext } from "../../../../src/core/keys/keys-context.js";
import type { SigningAlg } from "../../../../src/core/keys/material.js";
import { openKeys, type KeySettings } from "../../../../src/core/keys/open-keys.js";
import { createAccessTokenSigner, createAccessTokenVerifier, type AccessTokenClaims } from "../../../../src/core/tokens/access-token.js";
import type { Database } from "../../../../src/store/schema.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

export const SECRET = "keys unit test secret, at least thirty-two characters";
export const OTHER_SECRET = "another deployment's secret, also thirty-two characters";
export const ISSUER = "tokenver-keys-unit";
/** Chosen so that every arithmetic slip in the settings shows: retireMs = (600 + 7 + 10) s. */
export const ACCESS_TTL = 600;
export const CLOCK_TOLERANCE = 7;
export const RETIRE_MS = (ACCESS_TTL + CLOCK_TOLERANCE + 10) * 1000;
export const PUBLISH_DELAY = 300;
export const T0 = Date.parse("2031-03-04T05:06:07.089Z");

/** Milliseconds, shared by every node of one database. */
export interface Time {
  ms: number;
}

/** Makes every query through the plugged-in connection fail while `down` is set, and counts the queries. */
export class Outage implements KyselyPlugin {
  down = false;
  queries = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.queries += 1;
    if (this.down) throw new Error("SQLITE_IOERR: disk I/O error (test outage)");
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

export interface KeysNode {
  readonly keys: KeysContext;
  readonly ring: KeyRing;
  readonly started: { kid: string; reason: string } | undefined;
  readonly outage: Outage;
  readonly warnings: string[];
  /** An access token signed by the ring's signer (as the facade signs). */
  sign(): string;
  /** The claims, or throws the verifier's AuthError. */
  verify(token: string): AccessTokenClaims;
}

export interface KeysNodeOptions {
  alg?: SigningAlg;
  secret?: string;
  signingKey?: string;
  keyPublishDelay?: number;
  keyRotation?: number;
  /** This node's clock minus the database's (a node whose clock is off); the keys' clock stays the database's. */
  skewMs?: number;
  /** Wraps the node's connection (a Proxy that runs a racing step first, say). */
  wrap?: (db: Kysely<Database>) => Kysely<Database>;
}

/** The settings openKeys gets from createAuth, with the constants above and the world's clock (the database's). */
export function keySettings(time: Time, warnings: string[], options: KeysNodeOptions = {}): KeySettings {
  return {
    signingAlg: options.alg ?? "HS256",
    signingKey: options.signingKey,
    keyPublishDelay: options.keyPublishDelay ?? PUBLISH_DELAY,
    keyRotation: options.keyRotation ?? 0,
    accessTtl: ACCESS_TTL,
    clockTolerance: CLOCK_TOLERANCE,
    clock: () => time.ms + (options.skewMs ?? 0),
    // The database's clock: the world's time, whatever the node's own.
    keysClock: async () => time.ms,
    onWarning: (message) => warnings.push(message),
  };
}

export interface KeysWorld {
  readonly base: SqliteCore;
  readonly db: Kysely<Database>;
  readonly time: Time;
  /** One more node (or command) on this database: its own ring, the same clock unless `skewMs`. */
  open(options?: KeysNodeOptions): Promise<KeysNode>;
  rows(): Promise<Database["tokenver_signing_keys"][]>;
  close(): Promise<void>;
}

export async function keysWorld(time: Time = { ms: T0 }): Promise<KeysWorld> {
  const base = await sqliteCore({ clock: () => time.ms });
  const db = base.store.db;
  const rings: KeyRing[] = [];
  return {
    base,
    db,
    time,
    open: async (options = {}) => {
      const outage = new Outage();
      const warnings: string[] = [];
      const clock = () => time.ms + (options.skewMs ?? 0);
      const plugged = db.withPlugin(outage);
      const { keys, started } = await openKeys(
        options.wrap?.(plugged) ?? plugged,
        options.secret ?? SECRET,
        keySettings(time, warnings, options),
      );
      rings.push(keys.ring);
      const tokenConfig = { keys: keys.ring, issuer: ISSUER, ttl: ACCESS_TTL, clockTolerance: CLOCK_TOLERANCE, clock };
      const signer = createAccessTokenSigner(tokenConfig);
      const verifier = createAccessTokenVerifier(tokenConfig);
      return {
        keys,
        ring: keys.ring,
        started,
        outage,
        warnings,
        sign: () => signer("user-1", "session-1", 0),
        verify: (token) => verifier(token),
      };
    },
    rows: () => db.selectFrom("tokenver_signing_keys").selectAll().orderBy("activate_at").orderBy("kid").execute(),
    close: async () => {
      for (const ring of rings) ring.stop();
      await base.close();
    },
  };
}

/** The kid in a token's header. */
export const kidOf = (token: string): string => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")).kid;

/** Resolves once `condition()` holds; fails after `ms` (a generous bound on a loaded machine). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * `db` with `step` run just before its first transaction begins (and after every read before it):
 * where another node's or command's commit lands between a check outside the keys' lock and the
 * same check under it.
 */
export function beforeFirstTransaction(db: Kysely<Database>, step: () => Promise<void>): Kysely<Database> {
  let pending: (() => Promise<void>) | undefined = step;
  return new Proxy(db, {
    get(target, property) {
      if (property === "transaction") {
        return () => {
          const builder = target.transaction();
          const run = pending;
          pending = undefined;
          if (run === undefined) return builder;
          return {
            execute: async <T>(change: Parameters<typeof builder.execute<T>>[0]) => {
              await run();
              return builder.execute(change);
            },
          };
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
