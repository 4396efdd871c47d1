import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";
import { keyRowsSql, keysVersion, listKeyRows, type SigningKeyRow } from "../../store/queries/signing-keys.js";
import { open } from "../mail/seal.js";
import type { Clock } from "../clock.js";
import { unavailable } from "../errors.js";
import type { SqliteHandle } from "../../store/sqlite-handle.js";
import type { ExternalWrites } from "../../store/revocation/external-writes.js";
import type { CacheLease } from "../../store/revocation/state.js";
import type { TokenKey, TokenKeys } from "../tokens/access-token.js";
import { publicJwkFromPrivate, publicPemOf, type PublicJwk, type SigningAlg } from "./material.js";
import { signerAt } from "./signer-at.js";

/** The HKDF label of the key that seals private keys at rest. */
export const WRAPPING_KEY_LABEL = "tokenver signing keys v1";
/** How often a node asks whether the keys changed (milliseconds); the CLI waits this long (and a margin) after a change. */
export const KEYS_POLL_MS = 1000;
export const KEYS_SETTLE_MS = KEYS_POLL_MS + 500;

/** A key as a node holds it. The private half never leaves this process. */
export interface LoadedKey extends TokenKey {
  readonly activateAt: number;
  readonly retireAfter: number | undefined;
  readonly createdAt: string;
  readonly publicJwk: PublicJwk | null;
  /** The HS256 key that is the server secret (tokens without kid verify with it). */
  readonly isSecret: boolean;
}

export type KeyState = "next" | "current" | "retiring";

/** A stored key that this process's server secret cannot use (another TOKENVER_SECRET made it). */
export class SecretMismatchError extends Error {}

export interface KeyRingOptions {
  db: Kysely<Database>;
  secret: string;
  wrappingKey: Buffer;
  secretKid: string;
  clock: Clock;
  onWarning: (message: string) => void;
}

/**
 * The signing keys this node knows, loaded from the database (core/keys/ensure-keys.ts made sure
 * there is a current one). The signer is the key with the latest `activate_at` not in the
 * future, so a published next key starts signing on every node at the same moment without any
 * write; a change (rotate --now, revoke) is seen within `KEYS_POLL_MS` by the poll.
 */
export class KeyRing implements TokenKeys {
  readonly #options: KeyRingOptions;
  #ordered: LoadedKey[] = [];
  #byKid = new Map<string, LoadedKey>();
  #secretKey: LoadedKey | undefined;
  #version: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  /** The tail of the reads of the keys (one at a time: `#serial`). */
  #reads: Promise<void> = Promise.resolve();
  /** The read `fresh()` callers share: queued, not yet begun. */
  #nextPoll: Promise<void> | undefined;
  #failing = false;
  #loaded = false;
  #external: ExternalWrites | undefined;
  readonly #onStop: Array<() => Promise<void>> = [];
  /** Revoked kids this node was told of: never installed again, whatever a reload read. */
  readonly #revoked = new Set<string>();
  /** Several nodes over Redis: the node's invalidation lease, under which the keys in memory may be used as they are. */
  #lease: CacheLease | undefined;
  /** performance.now() when invalidations may last have been missed (a lost subscription, a new generation). */
  #staleSince = 0;
  /** performance.now() when the last successful read of the keys' version (or of the keys) began. */
  #checkedAt = -Infinity;

  constructor(options: KeyRingOptions) {
    this.#options = options;
  }

  /**
   * A SQLite server: before the keys answer, asks (at most every 20 ms) whether another process
   * committed to the file, and then reloads them at once, synchronously. So a `tokenver keys`
   * command beside it is exact (it waits longer than that after its commit), poll or no poll.
   */
  watchSqlite(externalWrites: ExternalWrites, sqlite: SqliteHandle): void {
    const rows = sqlite.prepare<[], SigningKeyRow>(keyRowsSql(this.#options.db));
    externalWrites.onChange(() => this.#install(rows.all()));
    this.#external = externalWrites;
  }

  #checkExternal(): void {
    if (this.#external === undefined) return;
    try {
      // `false` while a transaction is open on the connection: the keys answer as loaded, and the
      // next call checks (docs/operations.md, "Commands beside a running SQLite server").
      this.#external.check();
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * Several nodes over Redis (docs/keys.md): a key revocation returns once every node holding an
   * invalidation lease has dropped the key (`revoked`). A node without a valid lease, or that may
   * have missed an invalidation since its keys were last read, reads the keys' version again
   * before it uses them (`fresh`).
   */
  followLease(lease: CacheLease): void {
    this.#lease = lease;
  }

  /**
   * A revoked key, told by another node or this process: gone here at once and for good (no later
   * reload installs it again); then the keys are read again for the new signer. Resolves once the
   * key is gone, whether or not that read succeeded (a failed one marks the keys stale), so a
   * node acknowledges a key revocation as soon as it can no longer verify with the key.
   */
  async revoked(kid: string): Promise<void> {
    this.#revoked.add(kid);
    if (this.#byKid.has(kid)) {
      this.#ordered = this.#ordered.filter((k) => k.kid !== kid);
      this.#byKid.delete(kid);
    }
    if (this.#secretKey?.kid === kid) this.#secretKey = undefined;
    await this.reload().catch(() => this.stale());
  }

  /** Invalidations may have been missed: the keys are read again before they are used. */
  stale(): void {
    this.#staleSince = performance.now();
  }

  /**
   * Undefined when the keys in memory may be used as they are (no lease to follow, or it holds and
   * no invalidation was missed since they were read); otherwise a promise that reads them again
   * (the version, and the keys if it moved). Never a read begun before the caller arrived (it could
   * predate a revocation that returned before it): callers share the next read to start, queued
   * behind the one under way, so a lapsed lease costs one read at a time, not one per request.
   */
  fresh(): Promise<void> | undefined {
    const lease = this.#lease;
    if (lease === undefined) return undefined;
    if (performance.now() < lease.validUntil && Date.now() < lease.wallValidUntil && this.#checkedAt > this.#staleSince) return undefined;
    if (this.#nextPoll === undefined) {
      const poll = this.#serial(() => {
        this.#nextPoll = undefined;
        return this.#pollNow();
      });
      this.#nextPoll = poll;
    }
    return this.#nextPoll;
  }

  /** The key that signs now. */
  signing(): LoadedKey {
    this.#checkExternal();
    const key = signerAt(this.#ordered, (k) => k.activateAt, this.#options.clock());
    // Between a revocation of the only key and the reload that brings its successor (milliseconds).
    if (key === undefined) throw unavailable(new Error("tokenver: no signing key loaded"));
    return key;
  }

  /** The key a token's header names; no kid: the server secret (tokens issued before kid existed). */
  find(kid: string | undefined): LoadedKey | undefined {
    this.#checkExternal();
    const key = kid === undefined ? this.#secretKey : this.#byKid.get(kid);
    // Past its retire_after a key verifies nothing, on every node at that moment, reload or not.
    return key !== undefined && this.#retired(key, this.#options.clock()) ? undefined : key;
  }

  /** Every key this node verifies with, oldest first. */
  keys(): readonly LoadedKey[] {
    const now = this.#options.clock();
    return this.#ordered.filter((k) => !this.#retired(k, now));
  }

  #retired(key: LoadedKey, now: number): boolean {
    return key.retireAfter !== undefined && key.retireAfter <= now;
  }

  stateOf(key: LoadedKey): KeyState {
    if (key.activateAt > this.#options.clock()) return "next";
    return key === this.signing() ? "current" : "retiring";
  }

  /** The public JWKs of the asymmetric keys that are next, current, or still verify. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys().flatMap((k) => (k.publicJwk === null ? [] : [k.publicJwk])) };
  }

  /** Reads the keys again (after a change this process made, or the poll saw). */
  reload(): Promise<void> {
    return this.#serial(() => this.#reloadNow());
  }

  /**
   * Reads of the keys run one after another: a slow read that began before a revocation can never
   * install its older rows after a newer read (last writer wins would bring a revoked key back).
   */
  #serial(read: () => Promise<void>): Promise<void> {
    const run = this.#reads.then(read);
    this.#reads = run.catch(() => {});
    return run;
  }

  async #reloadNow(): Promise<void> {
    const started = performance.now();
    const version = await keysVersion(this.#options.db);
    const rows = await listKeyRows(this.#options.db);
    this.#install(rows);
    this.#version = version;
    this.#checkedAt = Math.max(this.#checkedAt, started);
  }

  /** Polls for changes every `KEYS_POLL_MS`; `onTick` runs after each poll (scheduled rotation). */
  startPolling(onTick?: () => Promise<void>): void {
    this.#timer = setInterval(() => {
      if (this.#polling) return;
      this.#polling = true;
      this.#poll()
        .then(() => onTick?.())
        .then(
          () => (this.#failing = false),
          () => {
            // Once per outage: the poll retries every second.
            if (!this.#failing) this.#options.onWarning("signing keys: the database did not answer; will retry every second");
            this.#failing = true;
          },
        )
        .finally(() => (this.#polling = false));
    }, KEYS_POLL_MS);
    this.#timer.unref();
  }

  /** Stops polling and runs what `onStop` registered (the Redis announcements' connections). */
  stop(): void {
    clearInterval(this.#timer);
    for (const release of this.#onStop.splice(0)) void release();
  }

  onStop(release: () => Promise<void>): void {
    this.#onStop.push(release);
  }

  #poll(): Promise<void> {
    return this.#serial(() => this.#pollNow());
  }

  async #pollNow(): Promise<void> {
    const started = performance.now();
    const version = await keysVersion(this.#options.db);
    if (version !== this.#version) await this.#reloadNow();
    this.#checkedAt = Math.max(this.#checkedAt, started);
  }

  #install(rows: SigningKeyRow[]): void {
    const now = this.#options.clock();
    const ordered: LoadedKey[] = [];
    for (const row of [...rows].sort((a, b) => (a.activate_at < b.activate_at ? -1 : a.activate_at > b.activate_at ? 1 : 0))) {
      const retireAfter = row.retire_after === null ? undefined : Date.parse(row.retire_after);
      if (retireAfter !== undefined && retireAfter <= now) continue;
      if (this.#revoked.has(row.kid)) continue;
      // The HS256 key of an earlier TOKENVER_SECRET: changing the secret ends its tokens, as it always did.
      if (row.private_key === null && row.kid !== this.#options.secretKid) continue;
      // A key loaded before keeps its object: the verified-token cache compares keys by identity.
      const known = this.#byKid.get(row.kid);
      if (known !== undefined && known.activateAt === Date.parse(row.activate_at) && known.retireAfter === retireAfter) {
        ordered.push(known);
        continue;
      }
      if (known !== undefined) {
        ordered.push({ ...known, activateAt: Date.parse(row.activate_at), retireAfter });
        continue;
      }
      try {
        ordered.push(this.#load(row, retireAfter));
      } catch (error) {
        // At start-up this stops the start; later (a command with another TOKENVER_SECRET added
        // a key) the key stays unknown here: its tokens are refused, the others keep signing.
        if (!this.#loaded) throw error;
        this.#options.onWarning(`signing keys: ${(error as Error).message}; ignoring it`);
      }
    }
    this.#loaded = true;
    ordered.sort((a, b) => a.activateAt - b.activateAt);
    this.#ordered = ordered;
    this.#byKid = new Map(ordered.map((k) => [k.kid, k]));
    this.#secretKey = ordered.find((k) => k.isSecret);
  }

  #load(row: SigningKeyRow, retireAfter: number | undefined): LoadedKey {
    const alg = row.alg as SigningAlg;
    const base = { kid: row.kid, alg, activateAt: Date.parse(row.activate_at), retireAfter, createdAt: row.created_at };
    if (row.private_key === null) {
      // The HS256 key that is the server secret itself (exactly as before kid existed).
      return {
        ...base,
        signKey: this.#options.secret,
        verifyKey: this.#options.secret,
        publicJwk: null,
        isSecret: row.kid === this.#options.secretKid,
      };
    }
    let secretText: string;
    try {
      secretText = open(this.#options.wrappingKey, row.kid, row.private_key);
    } catch {
      throw new SecretMismatchError(
        `is not the secret the signing key ${row.kid} was sealed with (every node and command needs the same TOKENVER_SECRET)`,
      );
    }
    if (alg === "HS256") {
      const bytes = Buffer.from(secretText, "base64url");
      return { ...base, signKey: bytes, verifyKey: bytes, publicJwk: null, isSecret: false };
    }
    return {
      ...base,
      signKey: secretText,
      verifyKey: publicPemOf(secretText),
      publicJwk: publicJwkFromPrivate(secretText, alg, row.kid),
      isSecret: false,
    };
  }
}
