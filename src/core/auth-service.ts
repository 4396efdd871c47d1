import { randomUUID } from "node:crypto";
import { Type, type Static, type TObject } from "typebox";
import { Value } from "typebox/value";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";
import type { Store } from "../store/database.js";
import { isUniqueViolation } from "../store/database.js";
import type { RevocationChange, RevocationState } from "../store/revocation/state.js";
import type { CounterStore } from "../store/counters/counter-store.js";
import * as users from "../store/queries/users.js";
import * as sessions from "../store/queries/sessions.js";
import * as refreshTokens from "../store/queries/refresh-tokens.js";
import { pruneRefreshTokens } from "../store/queries/refresh-tokens.js";
import { pruneSessions } from "../store/queries/sessions.js";
import { createAccessTokenSigner, createAccessTokenVerifier, type AccessTokenClaims } from "./tokens/access-token.js";
import { parseBearer } from "./tokens/bearer.js";
import { isoAt } from "./clock.js";
import { AuthError, unavailable, type FieldError } from "./errors.js";
import type { ResolvedOptions, UserFields } from "../settings.js";
import { checkPasswordPolicy, hashPassword, verifyDummyPassword, verifyPassword } from "./passwords/password.js";
import { generateRefreshToken, parseRefreshToken, secretMatches } from "./tokens/refresh-token.js";

/** Who an authenticated request comes from: the result of `auth.verify()`. */
export interface Principal {
  userId: string;
  sessionId: string;
  tokenVersion: number;
  claims: AccessTokenClaims;
}

/** A user as the API returns it: never a password hash or any secret. */
export type User<P extends object = {}> = {
  id: string;
  email: string;
  username: string | null;
  token_version: number;
  created_at: string;
} & Partial<P>;

/** The custom user fields' type, from their TypeBox schemas. */
export type ProfileOf<F extends UserFields> = Static<TObject<F>>;

export interface TokenPair {
  access: string;
  refresh: string;
  token_type: "Bearer";
  /** Seconds until the access token expires. */
  expires_in: number;
}

export interface SessionInfo {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  current: boolean;
}

/** Where a request came from; stored on sessions and used for throttling. */
export interface RequestContext {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | null;
  [field: string]: unknown;
}

export type LogoutScope = "all" | "session";

export interface AuthServiceDeps {
  store: Store;
  revocation: RevocationState;
  counters: CounterStore;
  options: ResolvedOptions;
  secret: string;
}

// No whitespace or control characters (PostgreSQL text refuses NUL; nobody's address has one).
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;
const MAX_EMAIL_LENGTH = 254;
const MAX_USERNAME_LENGTH = 64;
const MAX_USER_AGENT_LENGTH = 512;

/** Trimmed and lower-cased: how emails are stored and compared. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The domain of tokenver. `verify()` is the one place that decides whether a request is
 * authenticated; every adapter (Fastify, Express, your own) calls it.
 */
export class AuthService<F extends UserFields = {}> {
  readonly options: ResolvedOptions;
  readonly #db: Kysely<Database>;
  readonly #store: Store;
  readonly #revocation: RevocationState;
  readonly #counters: CounterStore;
  readonly #sign: (sub: string, sid: string, version: number) => string;
  readonly #verifyToken: (token: string) => AccessTokenClaims;
  readonly #profileSchema: TObject;
  readonly #profilePatchSchema: TObject;
  #closed = false;
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(deps: AuthServiceDeps) {
    this.options = deps.options;
    this.#store = deps.store;
    this.#db = deps.store.db;
    this.#revocation = deps.revocation;
    this.#counters = deps.counters;
    const tokenConfig = {
      secret: deps.secret,
      issuer: deps.options.issuer,
      ttl: deps.options.accessTtl,
      clockTolerance: deps.options.clockTolerance,
      clock: deps.options.clock,
    };
    this.#sign = createAccessTokenSigner(tokenConfig);
    this.#verifyToken = createAccessTokenVerifier(tokenConfig);
    this.#profileSchema = Type.Object(deps.options.userFields, { additionalProperties: false });
    this.#profilePatchSchema = Type.Partial(this.#profileSchema) as TObject;
    if (deps.options.pruneInterval > 0) {
      this.#pruneTimer = setInterval(() => {
        this.prune().catch(() => this.options.onWarning("periodic prune failed: a store did not answer; will retry"));
      }, deps.options.pruneInterval * 1000);
      this.#pruneTimer.unref();
    }
  }

  /** The custom user fields as one TypeBox object schema (for HTTP schemas and docs). */
  get profileSchema(): TObject {
    return this.#profileSchema;
  }

  // ---------------------------------------------------------------------------------------------
  // The per-request check: parse header -> verify signature and claims -> check revocation state.

  /**
   * Authenticates an `Authorization` header value. Resolves to the principal, or rejects with an
   * `AuthError`: `token_missing`, `token_invalid`, `token_expired`, `token_revoked`, or
   * `service_unavailable` when the revocation state cannot be read (never fails open).
   */
  async verify(authorization: string | null | undefined): Promise<Principal> {
    const token = parseBearer(authorization);
    const claims = this.#verifyToken(token);
    let state;
    try {
      state = await this.#revocation.get(claims.sid, claims.sub);
    } catch (error) {
      throw unavailable(error);
    }
    if (state === undefined || state.userId !== claims.sub) {
      throw new AuthError("token_invalid", "The token's session is unknown.", { tokenPresented: true });
    }
    if (state.revoked || claims.token_version !== state.tokenVersion) {
      throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
    }
    return { userId: claims.sub, sessionId: claims.sid, tokenVersion: claims.token_version, claims };
  }

  // ---------------------------------------------------------------------------------------------
  // Accounts and tokens.

  async register(input: RegisterInput, context: RequestContext = {}): Promise<TokenPair & { user: User<ProfileOf<F>> }> {
    const email = typeof input?.email === "string" ? normalizeEmail(input.email) : undefined;
    const errors: FieldError[] = [];
    if (email === undefined || email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
      errors.push({ field: "email", message: "must be a valid email address" });
    }
    if (typeof input?.password !== "string") errors.push({ field: "password", message: "must be a string" });
    else errors.push(...(await checkPasswordPolicy(input.password)));
    const username = input?.username ?? null;
    errors.push(...checkUsername(username));
    const profile = pickFields(input ?? {}, this.options.userFields);
    errors.push(...schemaErrors(this.#profileSchema, profile));
    if (errors.length > 0) throw new AuthError("validation_failed", "The request body is invalid.", { errors });

    const passwordHash = await hashPassword(input.password);
    const now = this.#now();
    const userId = randomUUID();
    const issued = this.#newSession(userId, 0, now, context);
    let row: users.UserRow;
    try {
      row = await this.#db.transaction().execute(async (trx) => {
        const inserted = await users.insertUser(trx, {
          id: userId,
          email: email!,
          username: username as string | null,
          password_hash: passwordHash,
          profile: JSON.stringify(profile),
          now: isoAt(now),
        });
        await issued.persist(trx);
        return inserted;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AuthError("email_taken", "An account with this email already exists.");
      throw unavailable(error);
    }
    return { user: toUser<ProfileOf<F>>(row), ...this.#pair(userId, issued.sessionId, 0, issued.refresh) };
  }

  async login(input: { email: string; password: string }, context: RequestContext = {}): Promise<TokenPair & { user: User<ProfileOf<F>> }> {
    if (typeof input?.email !== "string" || typeof input?.password !== "string") {
      throw new AuthError("validation_failed", "The request body is invalid.", {
        errors: [{ field: typeof input?.email !== "string" ? "email" : "password", message: "must be a string" }],
      });
    }
    const email = normalizeEmail(input.email);
    if (CONTROL.test(email)) {
      throw new AuthError("validation_failed", "The request body is invalid.", {
        errors: [{ field: "email", message: "must not contain control characters" }],
      });
    }
    await this.#countAttempt(email, context.ip);
    const user = await this.#guard(() => users.findUserByEmail(this.#db, email));
    const ok = user !== undefined ? await verifyPassword(user.password_hash, input.password) : await verifyDummyPassword(input.password);
    if (!ok || user === undefined) throw new AuthError("invalid_credentials", "The email or password is incorrect.");
    await this.#attemptSucceeded(email, context.ip);
    const now = this.#now();
    const issued = this.#newSession(user.id, user.token_version, now, context);
    await this.#guard(() => this.#db.transaction().execute((trx) => issued.persist(trx)));
    return { user: toUser<ProfileOf<F>>(user), ...this.#pair(user.id, issued.sessionId, user.token_version, issued.refresh) };
  }

  /**
   * Rotates a refresh token: the presented token becomes used, a new one is returned. A used token
   * presented again revokes its whole session (RFC 9700, 4.14.2) and gives `refresh_reused`.
   */
  async refresh(token: string): Promise<TokenPair> {
    const row = await this.#findRefreshToken(token);
    if (row === undefined) throw new AuthError("token_invalid", "The refresh token is unknown or malformed.", { tokenPresented: true });
    if (row.revoked_at !== null || row.session_version !== row.user_version || row.token_revoked_at !== null) {
      throw new AuthError("token_revoked", "The refresh token's session has been revoked.", { tokenPresented: true });
    }
    if (row.used_at !== null) await this.#revokeForReuse(row.user_id, row.session_id);
    const now = this.#now();
    if (row.expires_at <= isoAt(now)) throw new AuthError("token_expired", "The refresh token has expired.", { tokenPresented: true });

    const next = generateRefreshToken();
    const expiresAt = isoAt(now + this.options.refreshTtl * 1000);
    const rotated = await this.#guard(() =>
      this.#db.transaction().execute(async (trx) => {
        if (!(await refreshTokens.consumeRefreshToken(trx, row.id, isoAt(now)))) return false;
        await refreshTokens.insertRefreshToken(trx, {
          id: next.id,
          session_id: row.session_id,
          token_hash: next.hash,
          now: isoAt(now),
          expires_at: expiresAt,
        });
        await sessions.touchSession(trx, row.session_id, isoAt(now), expiresAt);
        return true;
      }),
    );
    // Another request used this token between our read and our write: that is reuse too.
    if (!rotated) await this.#revokeForReuse(row.user_id, row.session_id);
    return this.#pair(row.user_id, row.session_id, row.user_version, next.token);
  }

  /**
   * Scope `all` (default) increments the user's token version and revokes every session; scope
   * `session` revokes the caller's session, and the session of `refresh` if it is the caller's own.
   */
  async logout(principal: Principal, input: { refresh?: string | undefined; scope?: LogoutScope | undefined } = {}): Promise<void> {
    const scope = input.scope ?? "all";
    if (scope !== "all" && scope !== "session") {
      throw new AuthError("validation_failed", "The request body is invalid.", {
        errors: [{ field: "scope", message: "must be all or session" }],
      });
    }
    if (scope === "all") {
      await this.#revoke({ userId: principal.userId }, async (trx, now) => {
        const tokenVersion = (await users.incrementTokenVersion(trx, principal.userId, now))!;
        const sessionIds = await sessions.revokeUserSessions(trx, principal.userId, now);
        return { userId: principal.userId, tokenVersion, sessionIds };
      });
      return;
    }
    const targets = [principal.sessionId];
    const own = await this.#ownRefreshSession(principal.userId, input.refresh);
    if (own !== undefined && own !== principal.sessionId) targets.push(own);
    await this.#revoke({ userId: principal.userId, sessionIds: targets }, async (trx, now) => {
      for (const id of targets) await sessions.revokeSession(trx, principal.userId, id, now);
      return { userId: principal.userId, sessionIds: targets };
    });
  }

  /**
   * Changes the password after checking the current one (403 `invalid_credentials` when wrong,
   * throttled like logins). Increments the token version, revokes every other session, and
   * returns a new pair for the caller's session.
   */
  async changePassword(
    principal: Principal,
    input: { current_password: string; new_password: string },
    context: RequestContext = {},
  ): Promise<TokenPair> {
    if (typeof input?.current_password !== "string" || typeof input?.new_password !== "string") {
      throw new AuthError("validation_failed", "The request body is invalid.", {
        errors: [{ field: typeof input?.current_password !== "string" ? "current_password" : "new_password", message: "must be a string" }],
      });
    }
    const user = await this.#guard(() => users.findUserById(this.#db, principal.userId));
    if (user === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
    await this.#countAttempt(user.email, context.ip);
    if (!(await verifyPassword(user.password_hash, input.current_password))) {
      throw new AuthError("invalid_credentials", "The current password is incorrect.", { status: 403 });
    }
    await this.#attemptSucceeded(user.email, context.ip);
    const errors = await checkPasswordPolicy(input.new_password, "new_password");
    if (errors.length > 0) throw new AuthError("validation_failed", "The request body is invalid.", { errors });
    const passwordHash = await hashPassword(input.new_password);
    const next = generateRefreshToken();
    const change = await this.#revoke({ userId: user.id }, async (trx, now, nowMs) => {
      // Only if the caller's version and session are still current: a session revoked while
      // this request hashed (say, by the owner changing the password) must not win afterwards.
      const tokenVersion = await users.incrementTokenVersion(trx, user.id, now, { passwordHash, expectedVersion: principal.tokenVersion });
      const expiresAt = isoAt(nowMs + this.options.refreshTtl * 1000);
      // This session continues: re-keyed to the new version, its old refresh tokens revoked.
      if (tokenVersion === undefined || !(await sessions.rekeySession(trx, user.id, principal.sessionId, tokenVersion, now, expiresAt))) {
        throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
      }
      const sessionIds = await sessions.revokeUserSessions(trx, user.id, now, principal.sessionId);
      await refreshTokens.revokeSessionRefreshTokens(trx, principal.sessionId, now);
      await refreshTokens.insertRefreshToken(trx, {
        id: next.id,
        session_id: principal.sessionId,
        token_hash: next.hash,
        now,
        expires_at: expiresAt,
      });
      return { userId: user.id, tokenVersion, sessionIds };
    });
    return this.#pair(user.id, principal.sessionId, change.tokenVersion!, next.token);
  }

  // ---------------------------------------------------------------------------------------------
  // Profile and sessions.

  async getUser(principal: Principal): Promise<User<ProfileOf<F>>> {
    const row = await this.#guard(() => users.findUserById(this.#db, principal.userId));
    if (row === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
    return toUser<ProfileOf<F>>(row);
  }

  /** Updates `username` and custom fields; every other key is ignored. */
  async updateProfile(principal: Principal, input: Record<string, unknown>): Promise<User<ProfileOf<F>>> {
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      throw new AuthError("validation_failed", "The request body is invalid.", { errors: [{ field: "", message: "must be an object" }] });
    }
    const errors: FieldError[] = [];
    const changes = pickFields(input, this.options.userFields);
    errors.push(...schemaErrors(this.#profilePatchSchema, changes));
    const hasUsername = Object.hasOwn(input, "username");
    if (hasUsername) errors.push(...checkUsername(input.username ?? null));
    if (errors.length > 0) throw new AuthError("validation_failed", "The request body is invalid.", { errors });
    const now = isoAt(this.#now());
    const row = await this.#guard(() =>
      this.#db.transaction().execute(async (trx) => {
        // Lock the row on PostgreSQL so concurrent patches of different fields both survive.
        let q = trx.selectFrom("users").select("profile").where("id", "=", principal.userId);
        if (this.#store.dialect === "postgres") q = q.forUpdate();
        const current = await q.executeTakeFirst();
        if (current === undefined) return undefined;
        const profile = JSON.stringify({ ...(JSON.parse(current.profile) as object), ...changes });
        return users.updateUserProfile(
          trx,
          principal.userId,
          { profile, ...(hasUsername ? { username: (input.username ?? null) as string | null } : {}) },
          now,
        );
      }),
    );
    if (row === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
    return toUser<ProfileOf<F>>(row);
  }

  /** The caller's live sessions, oldest first; `current` marks the caller's own. */
  async listSessions(principal: Principal): Promise<SessionInfo[]> {
    const rows = await this.#guard(() => sessions.listLiveSessions(this.#db, principal.userId, isoAt(this.#now())));
    return rows.map((r) => ({
      id: r.id,
      created_at: r.created_at,
      last_used_at: r.last_used_at,
      user_agent: r.user_agent,
      current: r.id === principal.sessionId,
    }));
  }

  /** Revokes one of the caller's sessions; `not_found` for an unknown id or another user's. */
  async revokeSession(principal: Principal, sessionId: string): Promise<void> {
    if (typeof sessionId !== "string" || sessionId.length === 0 || sessionId.length > 64) throw notFound();
    // Made-up and foreign ids end here, before they mark anything or disturb any node's cache.
    if (!(await this.#guard(() => sessions.isLiveSession(this.#db, principal.userId, sessionId)))) throw notFound();
    const change = await this.#revoke({ userId: principal.userId, sessionIds: [sessionId] }, async (trx, now) => {
      const revoked = await sessions.revokeSession(trx, principal.userId, sessionId, now);
      return { userId: principal.userId, sessionIds: revoked ? [sessionId] : [] };
    });
    if (change.sessionIds!.length === 0) throw notFound();
  }

  // ---------------------------------------------------------------------------------------------
  // Operations.

  /** Throws `service_unavailable` when a store does not answer. */
  async health(): Promise<void> {
    // Every revocation state pings the database (the system of record) underneath.
    await this.#guard(() => this.#revocation.ping());
  }

  /** Deletes expired sessions and refresh tokens; returns how many rows went. */
  async prune(): Promise<{ sessions: number; refreshTokens: number }> {
    const now = isoAt(this.#now());
    const refreshCount = await this.#guard(() => pruneRefreshTokens(this.#db, now));
    const sessionCount = await this.#guard(() => pruneSessions(this.#db, now));
    return { sessions: sessionCount, refreshTokens: refreshCount };
  }

  /** Releases connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    await Promise.allSettled([this.#revocation.close(), this.#counters.close()]);
    await this.#store.close();
  }

  // ---------------------------------------------------------------------------------------------

  #now(): number {
    return this.options.clock();
  }

  #pair(userId: string, sessionId: string, tokenVersion: number, refresh: string): TokenPair {
    return { access: this.#sign(userId, sessionId, tokenVersion), refresh, token_type: "Bearer", expires_in: this.options.accessTtl };
  }

  #newSession(userId: string, tokenVersion: number, nowMs: number, context: RequestContext) {
    const sessionId = randomUUID();
    const refresh = generateRefreshToken();
    const now = isoAt(nowMs);
    const expiresAt = isoAt(nowMs + this.options.refreshTtl * 1000);
    return {
      sessionId,
      refresh: refresh.token,
      persist: async (trx: Kysely<Database>) => {
        await sessions.insertSession(trx, {
          id: sessionId,
          user_id: userId,
          token_version: tokenVersion,
          now,
          expires_at: expiresAt,
          // An empty User-Agent says nothing: listed as null, like a missing one.
          user_agent: typeof context.userAgent === "string" ? context.userAgent.trim().slice(0, MAX_USER_AGENT_LENGTH) || null : null,
          ip: typeof context.ip === "string" ? context.ip.slice(0, 64) : null,
        });
        await refreshTokens.insertRefreshToken(trx, {
          id: refresh.id,
          session_id: sessionId,
          token_hash: refresh.hash,
          now,
          expires_at: expiresAt,
        });
      },
    };
  }

  /**
   * Every revoking write goes through here: tell the revocation state before, commit, tell it
   * after. If the state cannot be told, or the commit would come after the deadline the state
   * gave (its in-flight markers would have expired), the request fails (503) rather than report a
   * revocation that some node might not honour.
   */
  async #revoke(
    intent: RevocationChange,
    write: (trx: Kysely<Database>, now: string, nowMs: number) => Promise<RevocationChange>,
  ): Promise<RevocationChange> {
    const deadline = await this.#guard(() => this.#revocation.beforeRevoke(intent));
    const nowMs = this.#now();
    const change = await this.#guard(() =>
      this.#db.transaction().execute(async (trx) => {
        const change = await write(trx, isoAt(nowMs), nowMs);
        if (performance.now() > deadline) throw new Error("the revocation could not commit in time");
        return change;
      }),
    );
    await this.#guard(() => this.#revocation.afterRevoke(change));
    return change;
  }

  async #revokeForReuse(userId: string, sessionId: string): Promise<never> {
    await this.#revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
      await sessions.revokeSession(trx, userId, sessionId, now);
      return { userId, sessionIds: [sessionId] };
    });
    throw new AuthError("refresh_reused", "The refresh token was already used; its session is revoked.", { tokenPresented: true });
  }

  /** The session of `refresh` when it is a valid token of this user's; otherwise undefined. */
  async #ownRefreshSession(userId: string, refresh: unknown): Promise<string | undefined> {
    const row = await this.#findRefreshToken(refresh);
    return row !== undefined && row.user_id === userId ? row.session_id : undefined;
  }

  /** The row of a well-formed refresh token whose secret matches (constant time); else undefined. */
  async #findRefreshToken(token: unknown) {
    const parsed = typeof token === "string" ? parseRefreshToken(token) : undefined;
    if (parsed === undefined) return undefined;
    const row = await this.#guard(() => refreshTokens.findRefreshToken(this.#db, parsed.id));
    return row !== undefined && secretMatches(parsed.secret, row.token_hash) ? row : undefined;
  }

  /**
   * Counts this attempt before the password is checked, so parallel guesses cannot all pass a
   * check made before any of them failed; 429 once the account or the address is over its limit.
   */
  async #countAttempt(email: string, ip: string | undefined): Promise<void> {
    const { accountFailures, addressFailures, windowSeconds } = this.options.rateLimit;
    // The address first: once it is over its limit it cannot create (or flush) account counters.
    // A refused attempt counts nothing (it checks no password): a burst of correct logins from one
    // address (a NAT, a proxy) that filled the window while in flight leaves it usable once they
    // have succeeded and given their counts back.
    if (ip !== undefined) {
      const address = await this.#guard(() => this.#counters.hit(addressKey(ip), windowSeconds, addressFailures));
      if (!address.counted) throw rateLimited(address.retryAfter);
    }
    const account = await this.#guard(() => this.#counters.hit(accountKey(email), windowSeconds, accountFailures));
    if (!account.counted) {
      if (ip !== undefined) await this.#guard(() => this.#counters.release(addressKey(ip)));
      throw rateLimited(account.retryAfter);
    }
  }

  /** The password was right: the account starts afresh and the address gets its attempt back (only failures count). */
  async #attemptSucceeded(email: string, ip: string | undefined): Promise<void> {
    await this.#guard(() => this.#counters.reset(accountKey(email)));
    if (ip !== undefined) await this.#guard(async () => this.#counters.release(addressKey(ip)));
  }

  /** Runs a store call; anything but an AuthError becomes 503 (fail closed, no details leak). */
  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw unavailable(error);
    }
  }
}

function toUser<P extends object>(row: users.UserRow): User<P> {
  const profile = JSON.parse(row.profile) as P;
  return { ...profile, id: row.id, email: row.email, username: row.username, token_version: row.token_version, created_at: row.created_at };
}

function pickFields(input: Record<string, unknown>, fields: UserFields): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of Object.keys(fields)) if (Object.hasOwn(input, name) && input[name] !== undefined) picked[name] = input[name];
  return picked;
}

function schemaErrors(schema: TObject, value: unknown): FieldError[] {
  if (Value.Check(schema, value)) return [];
  return [...Value.Errors(schema, value)].map((e) => ({
    field: (e.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".") || requiredField(e) || "",
    message: e.message,
  }));
}

function requiredField(error: { params?: unknown }): string | undefined {
  const params = error.params as { requiredProperties?: string[] } | undefined;
  return params?.requiredProperties?.[0];
}

function checkUsername(username: unknown): FieldError[] {
  if (username === null) return [];
  if (
    typeof username !== "string" ||
    username.trim().length === 0 ||
    CONTROL.test(username) ||
    [...username].length > MAX_USERNAME_LENGTH
  ) {
    return [
      {
        field: "username",
        message: `must be null or a non-empty string of at most ${MAX_USERNAME_LENGTH} characters, without control characters`,
      },
    ];
  }
  return [];
}

function accountKey(email: string): string {
  return `login:account:${email}`;
}

function addressKey(ip: string): string {
  return `login:address:${ip}`;
}

function rateLimited(retryAfter: number): AuthError {
  return new AuthError("rate_limited", "Too many failed attempts; try again later.", { retryAfter: Math.max(1, retryAfter) });
}

function notFound(): AuthError {
  return new AuthError("not_found", "No such session.");
}
