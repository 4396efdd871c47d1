// One file on purpose: this is the Auth facade, the one public object of the library. Each method
// is a one-line delegation to an operation in core/<capability>/, and the lifecycle (start-up,
// prune, close) that owns the stores lives beside them so the order of opening and closing reads
// in one place. New behaviour goes into an operation file, never here.
import { deriveKey } from "../lib/derive-key.js";
import type { TObject } from "typebox";
import type { CounterStore } from "../store/counters/counter-store.js";
import type { Store } from "../store/database.js";
import { pruneEvents } from "../store/queries/events.js";
import { eraseEndedSeals } from "../store/queries/browser.js";
import { startSealSweep } from "./browser/seal-sweep.js";
import { pruneRefreshTokens } from "../store/queries/refresh-tokens.js";
import { pruneSessions } from "../store/queries/sessions.js";
import { READ_THROUGH, type RevocationState } from "../store/revocation/state.js";
import { LocalRevocationCache } from "../store/revocation/local-cache.js";
import { login } from "./accounts/login.js";
import { getUser, updateProfile } from "./accounts/profile.js";
import { register } from "./accounts/register.js";
import { isoAt } from "./clock.js";
import type { CoreConfig, UserFields } from "./config.js";
import type { Core } from "./context.js";
import { AuthError, failClosed } from "./errors.js";
import { listEvents, listOwnEvents } from "./events/list.js";
import { EventRecorder } from "./events/recorder.js";
import type { EventPage, EventQuery, EventStats, SecurityEvent } from "./events/types.js";
import { WebhookDispatcher } from "./webhooks/dispatcher.js";
import { outboxWriter } from "./webhooks/enqueue.js";
import type { WebhookSettings } from "./webhooks/settings.js";
import { pruneDeadLetters } from "../store/queries/webhooks.js";
import { pruneChallenges } from "../store/queries/mfa.js";
import { changePassword } from "./passwords/change-password.js";
import { HashQueue } from "./passwords/hashing.js";
import { Outbox } from "./mail/outbox.js";
import { fileTransport, type MailTransport } from "./mail/transport.js";
import { Revoker } from "./revoke.js";
import { logout } from "./sessions/logout.js";
import { listSessions, revokeSession } from "./sessions/manage.js";
import { refresh } from "./sessions/refresh.js";
import { Throttle } from "./throttle.js";
import { NO_OBSERVER, observed } from "./observer.js";
import type { Metrics } from "../metrics/metrics.js";
import { createAccessTokenSigner, createAccessTokenVerifier, secretKeys } from "./tokens/access-token.js";
import type {
  ChangePasswordInput,
  ListSessionsOptions,
  LogoutInput,
  Principal,
  ProfileOf,
  ProfilePatch,
  RegisterInput,
  RequestContext,
  SessionPage,
  SignIn,
  SignUp,
  TokenPair,
  User,
} from "./types.js";
import { profileSchemas } from "./validation.js";
import { createVerify, type VerifyOptions } from "./verify.js";
import { checkCsrfToken, issueCsrfToken } from "./browser/csrf-token.js";
import { deleteAccount } from "./accounts/delete-account.js";
import { confirmTotp, type ConfirmTotpInput } from "./mfa/confirm-totp.js";
import { disableTotp, type SecondFactorProof } from "./mfa/disable-totp.js";
import { loginMfa, type LoginMfaInput } from "./mfa/login-mfa.js";
import { renewRecoveryCodes } from "./mfa/renew-recovery-codes.js";
import { startTotp, type TotpEnrolment } from "./mfa/start-totp.js";
import { settle as settleBackground } from "./recovery/background.js";
import { cancelEmailChange } from "./recovery/cancel-email-change.js";
import { changeEmail, type ChangeEmailInput } from "./recovery/change-email.js";
import { deleteOwnAccount } from "./recovery/delete-own-account.js";
import { forgotPassword } from "./recovery/forgot-password.js";
import { pruneUnverifiedAccounts } from "./recovery/prune-unverified.js";
import { resendVerification } from "./recovery/resend-verification.js";
import { resetPassword, type ResetPasswordInput } from "./recovery/reset-password.js";
import { verifyEmail } from "./recovery/verify-email.js";
import { pruneLinks } from "../store/queries/links.js";
import type { ActorOptions, AdminActionOptions } from "./users/actor.js";
import type { ServerSideUserApi } from "./users/api.js";
import { createUser, type CreateUserInput } from "./users/create-user.js";
import { disableUser } from "./users/disable-user.js";
import { enableUser } from "./users/enable-user.js";
import { findUserByEmail, findUserById } from "./users/find-user.js";
import { listUsers, type ListUsersOptions, type UserPage } from "./users/list-users.js";
import { logoutUser } from "./users/logout-user.js";
import { requireAdmin } from "./users/require-admin.js";
import { revokeUserSession } from "./users/revoke-user-session.js";
import { setRole } from "./users/set-role.js";
import { getUserDetail, type UserDetail } from "./users/user-detail.js";
import type { Role } from "./types.js";
import type { KeysContext } from "./keys/keys-context.js";
import { listKeys, type KeyInfo } from "./keys/list-keys.js";
import { revokeKey } from "./keys/revoke-key.js";
import { rotateKey, type RotatedKey } from "./keys/rotate-key.js";
import type { PublicJwk } from "./keys/material.js";
import { createClient, type CreatedClient } from "./clients/create-client.js";
import { deleteClient, listClients, type ClientInfo } from "./clients/manage-clients.js";
import { introspect, type IntrospectionResult } from "./clients/introspect.js";
import { recordEvent } from "./events/record.js";

/** The browser settings the adapters read (docs/api.md section 6). */
export interface BrowserSettings {
  /** Serialised origins (`https://app.example`): the public URL's first. */
  readonly allowedOrigins: readonly string[];
  /** Seconds: the `Max-Age` of the three cookies. */
  readonly refreshTtl: number;
  /** The path of the public URL without a trailing slash (`""` at the root). */
  readonly publicPath: string;
}

/** @internal What the composition root (create-auth.ts) hands the facade. */
export interface AuthParts {
  store: Store;
  revocation: RevocationState;
  counters: CounterStore;
  config: CoreConfig;
  /** Goes to the signer and the verifier only; nothing keeps or exposes it. */
  secret: string;
  /** Where the outbox worker hands mail, and the `From` of every mail; default: `.eml` files under ./data/outbox. */
  mail?: { transport: MailTransport; from: string };
  /** The signing keys (core/keys/), loaded and polled for changes; none (tests): the secret alone signs (HS256). */
  keys?: KeysContext | undefined;
  /** What start-up did to the keys (first key, a changed algorithm), for the `key.rotated` event. */
  keysStarted?: { kid: string; reason: string } | undefined;
  /** With the `metrics` option: the registry of this service, whose observer the domain reports to. */
  metrics?: Metrics;
  /** Where security events are POSTed, and the signing secrets; none: no webhooks. */
  webhooks?: WebhookSettings | undefined;
}

const parts = Symbol("tokenver.parts");

/**
 * The auth service that `createAuth()` returns: every operation of tokenver, each in a file of
 * its own under `src/core/` (accounts/, sessions/, passwords/, verify.ts). It holds no secret in
 * any property and exposes no store.
 *
 * ```ts
 * const auth = await createAuth({ databaseUrl: "sqlite:./data/app.db" });
 * const { user, accessToken, refreshToken } = await auth.register({ email, password });
 * const principal = await auth.verify(`Bearer ${accessToken}`); // or throws AuthError
 * await auth.logout(principal); // every token of the user dies, on every node
 * ```
 */
export class Auth<F extends UserFields = {}> implements ServerSideUserApi<F> {
  readonly #core: Core;
  readonly #store: Store;
  #browser: BrowserSettings | undefined;
  readonly #revocation: RevocationState;
  readonly #throttle: Throttle;
  readonly #verify: (authorization: string | null | undefined, options?: VerifyOptions) => Promise<Principal>;
  readonly #login: typeof login;
  readonly #loginMfa: typeof loginMfa;
  readonly #pruneTimer: NodeJS.Timeout | undefined;
  readonly #sealSweep: { stop(): void };
  readonly #outbox: Outbox;
  readonly #events: EventRecorder;
  readonly #webhooks: WebhookDispatcher | undefined;
  readonly #keys: KeysContext | undefined;
  #closed = false;
  /**
   * With the `metrics` option, this service's Prometheus series (docs/operations.md, "Metrics"):
   * `await auth.metrics.registry.metrics()` is the text to serve. Undefined without it.
   */
  readonly metrics: Metrics | undefined;

  /** @internal Use `createAuth()`. */
  constructor(
    token: typeof parts,
    { store, revocation, counters, config, secret, keys, keysStarted, webhooks, mail = defaultMail(), metrics }: AuthParts,
  ) {
    if (token !== parts) throw new TypeError("tokenver: use createAuth() to create the auth service");
    this.#keys = keys;
    const tokenConfig = {
      keys: keys?.ring ?? secretKeys(secret),
      issuer: config.issuer,
      ttl: config.accessTtl,
      clockTolerance: config.clockTolerance,
      clock: config.clock,
    };
    this.#store = store;
    this.#revocation = revocation;
    this.#throttle = new Throttle(counters, config.rateLimit);
    this.#outbox = new Outbox({
      db: store.db,
      transport: mail.transport,
      key: deriveKey(secret, "tokenver mail outbox v1"),
      from: mail.from,
      clock: config.clock,
      onWarning: config.onWarning,
      deliver: true,
    });
    const observer = metrics?.observer ?? NO_OBSERVER;
    this.metrics = metrics;
    // Without metrics these are the bare operations: nothing is added to the verify path.
    const freshKeys = keys === undefined ? undefined : () => keys.ring.fresh();
    this.#verify = observed(createVerify(createAccessTokenVerifier(tokenConfig), revocation, freshKeys), observer, (o, r) => o.verified(r));
    this.#login = observed(login, observer, (o, r) => o.loggedIn(r));
    // The second step of a sign-in is a login too (`mfa_required` is the first step's result).
    this.#loginMfa = observed(loginMfa, observer, (o, r) => o.loggedIn(r));
    const dispatcher = webhooks && new WebhookDispatcher(store.db, webhooks, { clock: config.clock, onWarning: config.onWarning });
    this.#webhooks = dispatcher;
    this.#events = new EventRecorder(store.db, {
      onWarning: config.onWarning,
      ...(dispatcher && { alsoWrite: outboxWriter(dispatcher.urls, config.clock), afterWrite: () => dispatcher.nudge() }),
    });
    this.#core = {
      db: store.db,
      dialect: store.dialect,
      config,
      revoker: new Revoker(store.db, revocation, config.clock, observer),
      userRows: revocation instanceof LocalRevocationCache ? revocation : READ_THROUGH,
      throttle: this.#throttle,
      hashQueue: new HashQueue(config.hashQueue, undefined, observer),
      deriveKey: (label, length) => deriveKey(secret, label, length),
      events: this.#events,
      sign: createAccessTokenSigner(tokenConfig),
      schemas: profileSchemas(config.userFields),
      mail: this.#outbox,
      observer,
    };
    // The first key of a new database is no rotation: a changed algorithm or configured key is.
    if (keysStarted !== undefined && keysStarted.reason !== "first") {
      recordEvent(this.#core, { type: "key.rotated", actor: "system", detail: { kid: keysStarted.kid, reason: keysStarted.reason } });
    }
    // Every node sees a key change within a second; a scheduled rotation (keyRotation) runs here too.
    keys?.ring.startPolling(async () => {
      if (keys.rotationMs <= 0) return;
      const rotated = await rotateKey(keys, { due: true });
      if (rotated !== undefined) this.#keyRotated(rotated, "scheduled", "system");
    });
    this.#sealSweep = startSealSweep(this.#core);
    if (config.pruneInterval > 0) {
      this.#pruneTimer = setInterval(() => {
        this.prune().catch(() => config.onWarning("periodic prune failed: a store did not answer; will retry"));
      }, config.pruneInterval * 1000);
      this.#pruneTimer.unref();
    }
  }

  /** The custom user fields as one TypeBox object schema (for request schemas and docs). */
  get profileSchema(): TObject {
    return this.#core.schemas.profile;
  }

  /**
   * Authenticates an `Authorization` header value. Resolves to the principal, or rejects with an
   * `AuthError`: `token_missing`, `token_invalid`, `token_expired`, `token_revoked`, or
   * `service_unavailable` when the revocation state cannot be read (never fails open).
   */
  verify(authorization: string | null | undefined, options?: VerifyOptions): Promise<Principal> {
    return this.#verify(authorization, options);
  }

  /**
   * What the HTTP adapters need for cookie mode, the origin checks and CORS (docs/api.md section
   * 6): the allowed origins (the public URL's first), the path of the public URL, the refresh TTL.
   */
  get browser(): BrowserSettings {
    // Read twice per request by the adapters: built once (the configuration does not change).
    if (this.#browser === undefined) {
      const { allowedOrigins, refreshTtl, publicUrl } = this.#core.config;
      this.#browser = Object.freeze({ allowedOrigins, refreshTtl, publicPath: new URL(publicUrl).pathname.replace(/\/+$/, "") });
    }
    return this.#browser;
  }

  /** A fresh CSRF token of a live session (docs/api.md section 6); undefined when the session is not live. */
  issueCsrfToken(userId: string, sessionId: string): Promise<string | undefined> {
    return issueCsrfToken(this.#core, userId, sessionId);
  }

  /** Throws `403 csrf_failed` unless `token` is a CSRF token of the principal's session at its current epoch. */
  checkCsrfToken(principal: Principal, token: string | undefined): Promise<void> {
    return checkCsrfToken(this.#core, principal, token);
  }

  /**
   * Creates an account (token version 0) and its first session, and mails a verification link.
   * `409 email_taken` for a known address. With `requireVerifiedEmail` registration issues no
   * tokens: use `signUp()` then (this throws a TypeError).
   */
  async register(input: RegisterInput<ProfileOf<F>>, context: RequestContext = {}): Promise<SignIn<ProfileOf<F>>> {
    if (this.#core.config.requireVerifiedEmail) {
      throw new TypeError("tokenver: with requireVerifiedEmail, registration issues no tokens: call auth.signUp()");
    }
    return (await register(this.#core, input, context)) as SignIn<ProfileOf<F>>;
  }

  /**
   * Registration as `POST /register` does it: the user and a new session's pair, or, with
   * `requireVerifiedEmail`, the user alone (`accessToken` undefined) until the address is verified.
   */
  signUp(input: RegisterInput<ProfileOf<F>>, context: RequestContext = {}): Promise<SignUp<ProfileOf<F>>> {
    return register(this.#core, input, context);
  }

  // ---- Account recovery and email (docs/api.md section 8; core/recovery/) ---------------------

  /** Always resolves (same time, account or not) once counted; the reset link is mailed after. `rate_limited` beyond the limits. */
  forgotPassword(input: { email: string }, context: RequestContext = {}): Promise<void> {
    return forgotPassword(this.#core, input, context);
  }

  /** Sets a new password with a reset link's token; every token and session of the user dies. `link_invalid` otherwise. */
  resetPassword(input: ResetPasswordInput, context: RequestContext = {}): Promise<void> {
    return resetPassword(this.#core, input, context);
  }

  /** Confirms an address with a verification (or email-change) link's token; resolves to the user. */
  verifyEmail(input: { token: string }, context: RequestContext = {}): Promise<User<ProfileOf<F>>> {
    return verifyEmail(this.#core, input, context);
  }

  /** Mails a fresh verification link to an unverified account; resolves the same either way. */
  resendVerification(input: { email: string }, context: RequestContext = {}): Promise<void> {
    return resendVerification(this.#core, input, context);
  }

  /** Starts an email change: a link to the new address, a notice with a cancel link to the old. */
  changeEmail(principal: Principal, input: ChangeEmailInput, context: RequestContext = {}): Promise<void> {
    return changeEmail(this.#core, principal, input, context);
  }

  /** The cancel link of an email change: the pending change dies and every session is revoked. */
  cancelEmailChange(input: { token: string }, context: RequestContext = {}): Promise<void> {
    return cancelEmailChange(this.#core, input, context);
  }

  /** Deletes the caller's own account after checking the password; every token dies at once. */
  deleteOwnAccount(principal: Principal, input: { password: string }, context: RequestContext = {}): Promise<void> {
    return deleteOwnAccount(this.#core, principal, input, context);
  }

  /** Resolves once the mail work that public requests left running after their answer has ended. */
  settleMail(): Promise<void> {
    return settleBackground(this.#core);
  }

  /** A new session for the right email and password; `invalid_credentials` otherwise; throttled. */
  login(input: { email: string; password: string }, context: RequestContext = {}): Promise<SignIn<ProfileOf<F>>> {
    return this.#login(this.#core, input, context) as Promise<SignIn<ProfileOf<F>>>;
  }

  /** Rotates a refresh token. A used one presented again revokes its session (`refresh_reused`). */
  refresh(refreshToken: string, context: RequestContext = {}): Promise<TokenPair> {
    return refresh(this.#core, refreshToken, context);
  }

  /** Scope `all` (default): every token of the user dies. Scope `session`: this session's only. */
  logout(principal: Principal, input: LogoutInput = {}, context: RequestContext = {}): Promise<void> {
    return logout(this.#core, principal, input, context);
  }

  /** Checks the current password, increments the version, revokes every other session, returns a new pair for this one. */
  changePassword(principal: Principal, input: ChangePasswordInput, context: RequestContext = {}): Promise<TokenPair> {
    return changePassword(this.#core, principal, input, context);
  }

  getUser(principal: Principal): Promise<User<ProfileOf<F>>> {
    // The store's driver handles: the hot read is a prepared statement (store/queries/user-row.ts).
    return getUser(this.#core, principal, this.#store);
  }

  /** Updates `username` and custom fields; every other key is ignored. */
  updateProfile(principal: Principal, input: ProfilePatch<ProfileOf<F>>): Promise<User<ProfileOf<F>>> {
    return updateProfile(this.#core, principal, input as Record<string, unknown>);
  }

  /**
   * The caller's live sessions, oldest first, a page at a time: at most `limit` (1 to 100,
   * default 50) after `cursor` (the previous page's `nextCursor`); `nextCursor` is null on the last page.
   */
  listSessions(principal: Principal, options: ListSessionsOptions = {}): Promise<SessionPage> {
    return listSessions(this.#core, principal, options);
  }

  /** Revokes one of the caller's sessions; `not_found` for an unknown id or another user's. */
  revokeSession(principal: Principal, sessionId: string, context: RequestContext = {}): Promise<void> {
    return revokeSession(this.#core, principal, sessionId, context);
  }

  // A second factor (docs/api.md section 9; core/mfa/; docs/mfa.md).

  /**
   * The second step of a sign-in whose `login` failed with `mfa_required`: its `mfa_token` and a
   * current TOTP code or a recovery code. Answers like `login`; `code_invalid`, `mfa_token_invalid`.
   */
  loginMfa(input: LoginMfaInput, context: RequestContext = {}): Promise<SignIn<ProfileOf<F>>> {
    return this.#loginMfa(this.#core, input, context) as Promise<SignIn<ProfileOf<F>>>;
  }

  /** Starts a TOTP enrolment: a new secret, its otpauth URL and QR code (SVG); `mfa_enabled` while one is on. */
  startTotp(principal: Principal): Promise<TotpEnrolment> {
    return startTotp(this.#core, principal);
  }

  /** Turns the pending enrolment on with a current code and the password; resolves to the 10 recovery codes (shown once). */
  confirmTotp(principal: Principal, input: ConfirmTotpInput, context: RequestContext = {}): Promise<string[]> {
    return confirmTotp(this.#core, principal, input, context);
  }

  /** Turns the second factor off with the password and a current code or a recovery code. */
  disableTotp(principal: Principal, input: SecondFactorProof, context: RequestContext = {}): Promise<void> {
    return disableTotp(this.#core, principal, input, context);
  }

  /** A new set of recovery codes (the old set dies), with the password and a code. */
  renewRecoveryCodes(principal: Principal, input: SecondFactorProof, context: RequestContext = {}): Promise<string[]> {
    return renewRecoveryCodes(this.#core, principal, input, context);
  }

  // Security events (docs/api.md section 10; core/events/).

  /** The caller's own last 50 security events, newest first. */
  listOwnEvents(principal: Principal): Promise<SecurityEvent[]> {
    return listOwnEvents(this.#core, principal);
  }

  /**
   * Every account's security events, newest first, by user and type, 50 a page. No role check
   * here: it is for administrators (`GET /admin/events` checks the role) and the application.
   */
  listEvents(query: EventQuery = {}): Promise<EventPage> {
    return listEvents(this.#core, query);
  }

  /** How many events were recorded, written, lost to a store failure, or dropped (queue full). */
  eventStats(): EventStats {
    return this.#events.stats();
  }

  /** Resolves once the events recorded so far are written (or counted as lost). */
  flushEvents(): Promise<void> {
    return this.#events.flush();
  }

  // ---- Administration: the server-side user API (docs/api.md section 10; issue 20) ------------
  // Documented on `ServerSideUserApi` (users/api.ts). Every revoking action goes through the one
  // revocation protocol; `options.actor` says who acts (an admin's id, "cli", or "system"), and
  // `options.admin` has the action check that admin again in its own transaction.
  findUserById(userId: string): Promise<User<ProfileOf<F>> | null> {
    return findUserById(this.#core, userId);
  }
  findUserByEmail(email: string): Promise<User<ProfileOf<F>> | null> {
    return findUserByEmail(this.#core, email);
  }
  logoutUser(userId: string, options: AdminActionOptions = {}): Promise<void> {
    return logoutUser(this.#core, userId, options);
  }
  revokeUserSession(userId: string, sessionId: string, options: AdminActionOptions = {}): Promise<void> {
    return revokeUserSession(this.#core, userId, sessionId, options);
  }
  disableUser(userId: string, options: AdminActionOptions = {}): Promise<void> {
    return disableUser(this.#core, userId, options);
  }
  enableUser(userId: string, options: AdminActionOptions = {}): Promise<void> {
    return enableUser(this.#core, userId, options);
  }
  deleteUser(userId: string, options: AdminActionOptions = {}): Promise<void> {
    return deleteAccount(this.#core, userId, options);
  }
  setRole(userId: string, role: Role, options: AdminActionOptions = {}): Promise<void> {
    return setRole(this.#core, userId, role, options);
  }
  createUser(input: CreateUserInput, options: AdminActionOptions = {}): Promise<User<ProfileOf<F>>> {
    return createUser(this.#core, input, options);
  }
  listUsers(options: ListUsersOptions = {}): Promise<UserPage<ProfileOf<F>>> {
    return listUsers(this.#core, options);
  }
  getUserDetail(userId: string): Promise<UserDetail<ProfileOf<F>>> {
    return getUserDetail(this.#core, userId);
  }
  requireAdmin(principal: Principal): Promise<void> {
    return requireAdmin(this.#core, principal);
  }

  /**
   * Delivers the webhooks due now, at once (the server does it in the background anyway: after
   * each batch of events, and every second); resolves to how many were delivered. 0 without webhooks.
   */
  deliverWebhooks(): Promise<number> {
    return this.#webhooks?.deliver() ?? Promise.resolve(0);
  }

  // ---- Signing keys (docs/api.md section 7; core/keys/) ------------------------------------------

  /** The public JWKs of the keys that are next, current or still verify; `{ keys: [] }` with HS256 only. */
  jwks(): { keys: PublicJwk[] } {
    return this.#keys?.ring.jwks() ?? { keys: [] };
  }

  /** RFC 8414 metadata (a subset): where the keys and introspection are, from the public URL. */
  serverMetadata(): { issuer: string; jwks_uri: string; introspection_endpoint: string } {
    const base = this.#core.config.publicUrl;
    return { issuer: this.#core.config.issuer, jwks_uri: `${base}/.well-known/jwks.json`, introspection_endpoint: `${base}/introspect` };
  }

  /**
   * Adds a key of the configured algorithm: published at once, signing after the publish delay
   * (`now`: at once). `forbidden` while a next key already waits, unless `now`.
   */
  async rotateKey(options: { now?: boolean } & ActorOptions = {}): Promise<RotatedKey> {
    const rotated = (await failClosed(() => rotateKey(this.#keysOrThrow(), { now: options.now === true })))!;
    this.#keyRotated(rotated, options.now ? "now" : "rotate", options.actor ?? "system");
    return rotated;
  }

  /** Removes a key at once: its tokens are `token_invalid` on every node once this has returned. `not_found` for an unknown kid. */
  async revokeKey(kid: string, options: ActorOptions = {}): Promise<{ signer: string }> {
    const result = await failClosed(() => revokeKey(this.#keysOrThrow(), kid));
    recordEvent(this.#core, {
      type: "key.rotated",
      actor: options.actor ?? "system",
      detail: { kid, reason: "revoked", signer: result.signer },
    });
    return result;
  }

  /** Every key that signs, will sign or still verifies: id, algorithm, state and dates (nothing secret). */
  listKeys(): Promise<KeyInfo[]> {
    return failClosed(() => listKeys(this.#keysOrThrow()));
  }

  #keysOrThrow(): KeysContext {
    if (this.#keys === undefined) throw new AuthError("forbidden", "This service was assembled without a key store.");
    return this.#keys;
  }

  #keyRotated(rotated: RotatedKey, reason: string, actor: string): void {
    recordEvent(this.#core, {
      type: "key.rotated",
      actor,
      detail: { kid: rotated.kid, alg: rotated.alg, reason, activate_at: rotated.activateAt },
    });
  }

  // ---- Introspection (RFC 7662; docs/api.md section 7; core/clients/) ----------------------------

  /** A service client of introspection: its secret is returned once (only an HMAC of it is stored). */
  createClient(name: string, options: ActorOptions = {}): Promise<CreatedClient> {
    return createClient(this.#core, name, options);
  }
  listClients(): Promise<ClientInfo[]> {
    return listClients(this.#core);
  }
  deleteClient(clientId: string, options: ActorOptions = {}): Promise<void> {
    return deleteClient(this.#core, clientId, options);
  }

  /**
   * `POST /introspect`: `authorization` is the request's header (HTTP Basic of a service client;
   * `invalid_client` otherwise); the token's claims when `verify` accepts it, else `{active: false}`.
   */
  introspect(authorization: string | undefined, token: unknown, context: RequestContext = {}): Promise<IntrospectionResult> {
    return introspect(this.#core, (header) => this.#verify(header), { authorization, token }, context);
  }

  /** Throws `service_unavailable` when a store does not answer. */
  async health(): Promise<void> {
    // Every revocation state pings the database (the system of record) underneath.
    await failClosed(() => this.#revocation.ping());
  }

  /**
   * Deletes expired sessions, refresh tokens and mailed links, events older than the retention,
   * and (with `requireVerifiedEmail`) accounts never verified within `unverifiedTtl`; returns how many rows went.
   */
  async prune(): Promise<{ sessions: number; refreshTokens: number; events: number; links: number; unverifiedUsers: number }> {
    const nowMs = this.#core.config.clock();
    const now = isoAt(nowMs);
    const refreshTokens = await failClosed(() => pruneRefreshTokens(this.#core.db, now));
    const sessions = await failClosed(() => pruneSessions(this.#core.db, now));
    const eventsBefore = isoAt(nowMs - this.#core.config.eventRetention * 86_400_000);
    const events = await failClosed(() => pruneEvents(this.#core.db, eventsBefore));
    await failClosed(() => pruneDeadLetters(this.#core.db, eventsBefore));
    // Pending second-factor sign-ins past their 300 seconds (each user's also go at their next one).
    await failClosed(() => pruneChallenges(this.#core.db, now));
    // Sealed grace successors whose window ended (docs/api.md section 6).
    await failClosed(() => eraseEndedSeals(this.#core.db, isoAt(nowMs - this.#core.config.refreshGrace * 1000)));
    const links = await failClosed(() => pruneLinks(this.#core.db, now));
    const unverifiedUsers = await failClosed(() => pruneUnverifiedAccounts(this.#core));
    return { sessions, refreshTokens, events, links, unverifiedUsers };
  }

  /** Releases connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    this.#sealSweep.stop();
    this.#keys?.ring.stop();
    // Mail work a public request left running after its answer ends first (recovery/background.ts).
    await settleBackground(this.#core);
    // The queued events are written while the store is still open.
    await this.#events.flush();
    await this.#webhooks?.stop();
    await this.#outbox.close().catch(() => {});
    await Promise.allSettled([this.#revocation.close(), this.#throttle.close()]);
    await this.#store.close();
  }
}

function defaultMail(): { transport: MailTransport; from: string } {
  return { transport: fileTransport("./data/outbox"), from: "tokenver <no-reply@localhost>" };
}

/** @internal For the composition root only (not exported from the package). */
export function assembleAuth<F extends UserFields>(authParts: AuthParts): Auth<F> {
  return new Auth<F>(parts, authParts);
}
