import { readCsrfCookie } from "./cookies.js";
import { errorOf, TokenverError } from "./errors.js";
import { withBrowserLock } from "./single-flight.js";
import type {
  AuthChange,
  ClientMode,
  ClientOptions,
  ClientUser,
  SignInResult,
  SignOutReason,
  SignUpResult,
  TokenStore,
  Tokens,
} from "./types.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** A bearer access token this close to `exp` is refreshed before it is sent. */
const EXPIRY_MARGIN_SECONDS = 5;

/** Codes that end the session; anything else (429, 503, a network error) leaves it as it was. */
const SIGNED_OUT_BY: Partial<Record<string, SignOutReason>> = {
  token_revoked: "revoked",
  refresh_reused: "reused",
  token_expired: "expired",
  token_invalid: "revoked",
  token_missing: "expired",
  account_disabled: "revoked",
};

function memoryStore(): TokenStore {
  let tokens: Tokens | null = null;
  return { load: () => tokens, save: (next) => void (tokens = next) };
}

/** Seconds until the JWT's `exp` (negative once past), or undefined when it cannot be read. */
function secondsLeft(jwt: string): number | undefined {
  try {
    const part = jwt.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp - Date.now() / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The tokenver client: sign-up, sign-in (with the second factor), sign-out, refresh, and a `fetch`
 * that carries the credentials. Built with {@link createClient}.
 */
export class TokenverClient {
  readonly mode: ClientMode;
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #tokens: TokenStore;
  readonly #credentialOrigins: Set<string>;
  readonly #listeners = new Set<(change: AuthChange) => void>();
  /** Cookie mode: the CSRF token of the session, in memory (the cookie is the fallback). */
  #csrf: string | undefined;
  #refreshing: Promise<void> | undefined;
  /** Counts the sessions' credentials this client adopted: a 401 for older ones needs no new refresh. */
  #generation = 0;

  constructor(options: ClientOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("createClient: options must be an object");
    const { baseUrl, mode } = options;
    let base: URL;
    try {
      base = new URL(baseUrl);
    } catch {
      throw new TypeError(`createClient: baseUrl must be an absolute http(s) URL, got ${JSON.stringify(baseUrl)}`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new TypeError("createClient: baseUrl must be an http(s) URL");
    if (mode !== "cookie" && mode !== "bearer")
      throw new TypeError(`createClient: mode must be "cookie" or "bearer", got ${JSON.stringify(mode)}`);
    if (options.tokenStore !== undefined && mode !== "bearer") throw new TypeError("createClient: tokenStore is for bearer mode only");
    this.mode = mode;
    this.#base = base.href.replace(/\/+$/, "");
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new TypeError("createClient: no fetch in this context; pass options.fetch");
    this.#fetch = fetchImpl.bind(globalThis);
    this.#tokens = options.tokenStore ?? memoryStore();
    this.#credentialOrigins = new Set([base.origin, ...(options.credentialOrigins ?? []).map((o) => new URL(o).origin)]);
  }

  /**
   * Creates an account. Signs in at once, unless the server requires a verified email first.
   *
   * @example
   * const { user } = await client.signUp({ email: "ada@example.com", password: "correct horse battery staple" });
   */
  async signUp(input: { email: string; password: string; username?: string; [field: string]: unknown }): Promise<SignUpResult> {
    const body = await this.#issue("/register", input);
    const signedIn = this.#adopt(body);
    const user = body.user as ClientUser;
    if (signedIn) this.#emit({ type: "signedIn", user });
    return { user, signedIn };
  }

  /**
   * Signs in. With a second factor on, resolves to `{status: "mfa_required", submitCode}`: call
   * `submitCode(code)` with a TOTP or recovery code (a wrong code rejects with `code_invalid`, and
   * may be retried with the same result object until the server ends the challenge).
   */
  async signIn(input: { email: string; password: string }): Promise<SignInResult> {
    try {
      return this.#signedIn(await this.#issue("/login", input));
    } catch (error) {
      const mfaToken = error instanceof TokenverError && error.code === "mfa_required" ? error.problem.mfa_token : undefined;
      if (typeof mfaToken !== "string") throw error;
      const submitCode = async (code: string) => this.#signedIn(await this.#issue("/login/mfa", { mfa_token: mfaToken, code }));
      return { status: "mfa_required", mfaToken, submitCode };
    }
  }

  /**
   * Signs out: scope `all` (the default: every device) or `session` (this one). Refreshes first
   * when the access token has expired, so the server can identify the session. The client is
   * signed out afterwards whatever the server answered; an answer other than 204 or 401 rejects.
   */
  async signOut(options: { scope?: "all" | "session" } = {}): Promise<void> {
    const scope = options.scope ?? "all";
    const refresh = this.mode === "bearer" ? this.#tokens.load()?.refresh : undefined;
    try {
      const response = await this.fetch(this.#url("/logout"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(refresh === undefined ? { scope } : { scope, refresh }),
      });
      if (!response.ok && response.status !== 401) throw await errorOf(response);
    } finally {
      this.#signOutLocally("logout");
    }
  }

  /**
   * Rotates the refresh token (cookie mode: the refresh cookie). One refresh at a time per browser
   * (see single-flight.ts). A refused refresh signs the client out and rejects with the API's code.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      const before = this.#refreshMark();
      try {
        await withBrowserLock(`tokenver-refresh ${this.#base}`, async () => {
          const now = this.#refreshMark();
          if (now !== undefined && now !== before) return this.#adoptOtherTab();
          await this.#refreshNow();
        });
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** The signed-in user (`GET /profile`). */
  async getUser(): Promise<ClientUser> {
    const response = await this.fetch(this.#url("/profile"));
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as ClientUser;
  }

  /** Changes the password; this session continues with new tokens, every other one ends. */
  async changePassword(input: { currentPassword: string; newPassword: string }): Promise<void> {
    const body = { current_password: input.currentPassword, new_password: input.newPassword };
    this.#adopt(await this.#issue("/password", body, true));
  }

  /**
   * `fetch` with the credentials: the bearer header, or in cookie mode the cookies and, on unsafe
   * methods, `X-CSRF-Token`. A path starting with `/` is taken relative to `baseUrl`. When the access
   * token has expired it refreshes once and sends the request again, so pass a body that can be
   * sent twice (a string, not a stream). Credentials go only to `baseUrl`'s origin and
   * `credentialOrigins`.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(typeof input === "string" && input.startsWith("/") ? this.#base + input : input);
    const trusted = this.#credentialOrigins.has(url.origin);
    const method = (init.method ?? "GET").toUpperCase();
    if (trusted && this.mode === "bearer" && this.#accessExpired()) await this.refresh().catch(() => undefined);
    if (trusted && this.mode === "cookie" && UNSAFE.has(method) && this.#csrfToken() === undefined) {
      // A reloaded page on another host than the API's: a refresh brings the CSRF token back.
      await this.refresh().catch(() => undefined);
    }
    const send = () => this.#fetch(url, trusted ? this.#withCredentials(method, init) : init);
    const sentWith = this.#generation;
    let response = await send();
    if (trusted && this.mode === "cookie" && response.status === 403 && (await codeOf(response)) === "csrf_failed") {
      // The CSRF epoch moved (a password or second-factor change in another tab): a refresh
      // brings a token of the current epoch.
      this.#csrf = undefined;
      if (this.#generation === sentWith) await this.refresh().catch(() => undefined);
      response = await send();
    }
    if (!trusted || response.status !== 401) return response;
    const code = await codeOf(response);
    if (code === "token_expired") {
      try {
        // Requests that were in flight together share one refresh: the later ones find it done.
        if (this.#generation === sentWith) await this.refresh();
      } catch {
        return response;
      }
      response = await send();
      if (response.status !== 401) return response;
    }
    const reason = SIGNED_OUT_BY[(await codeOf(response)) ?? ""];
    if (reason !== undefined && reason !== "expired") this.#signOutLocally(reason);
    return response;
  }

  /** Calls `listener` on every sign-in and sign-out (with its reason); returns the unsubscribe. */
  onChange(listener: (change: AuthChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  // The rest is private: requests that issue tokens, and the state they leave.

  #url(path: string): string {
    return this.#base + path;
  }

  /** A token-issuing request (register, login, login/mfa, refresh, password): its JSON body. */
  async #issue(path: string, body: unknown, authenticated = false): Promise<Record<string, unknown>> {
    const init: RequestInit = {
      method: "POST",
      headers: { "content-type": "application/json", ...(this.mode === "cookie" ? { "tokenver-mode": "cookie" } : {}) },
      body: JSON.stringify(body),
      ...(this.mode === "cookie" ? { credentials: "include" as const } : {}),
    };
    const response = authenticated ? await this.fetch(this.#url(path), init) : await this.#fetch(this.#url(path), init);
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as Record<string, unknown>;
  }

  #signedIn(body: Record<string, unknown>): SignInResult {
    if (!this.#adopt(body))
      throw new TypeError(
        `tokenver: the sign-in answer carried no ${this.mode === "cookie" ? "csrf_token (is cookie mode on?)" : "tokens"}`,
      );
    const user = body.user as ClientUser;
    this.#emit({ type: "signedIn", user });
    return { status: "signed_in", user };
  }

  /** Keeps what a token-issuing answer carried; false when it carried no session. */
  #adopt(body: Record<string, unknown>): boolean {
    if (this.mode === "cookie") {
      // Tokens in the body mean the server ignored Tokenver-Mode: refuse them rather than keep them in reach of script.
      if ("access" in body || "refresh" in body)
        throw new TypeError("tokenver: the server answered with tokens in the body, not in cookies");
      if (typeof body.csrf_token !== "string") return false;
      this.#csrf = body.csrf_token;
    } else {
      if (typeof body.access !== "string" || typeof body.refresh !== "string") return false;
      this.#tokens.save({ access: body.access, refresh: body.refresh });
    }
    this.#generation += 1;
    return true;
  }

  async #refreshNow(): Promise<void> {
    const refresh = this.mode === "bearer" ? this.#tokens.load()?.refresh : undefined;
    if (this.mode === "bearer" && refresh === undefined) {
      throw new TokenverError({
        type: "about:blank",
        title: "Token missing",
        status: 401,
        detail: "Not signed in.",
        code: "token_missing",
      });
    }
    try {
      this.#adopt(await this.#issue("/token/refresh", refresh === undefined ? {} : { refresh }));
    } catch (error) {
      const reason = error instanceof TokenverError ? SIGNED_OUT_BY[error.code] : undefined;
      if (reason !== undefined) this.#signOutLocally(reason);
      throw error;
    }
  }

  /** What a refresh changes, as this tab can see it: the CSRF cookie, or the stored refresh token. */
  #refreshMark(): string | undefined {
    return this.mode === "cookie" ? readCsrfCookie() : this.#tokens.load()?.refresh;
  }

  /** Another tab refreshed while this one waited for the lock: take its result. */
  #adoptOtherTab(): void {
    if (this.mode === "cookie") this.#csrf = readCsrfCookie();
    this.#generation += 1;
  }

  #csrfToken(): string | undefined {
    return this.#csrf ?? readCsrfCookie();
  }

  #accessExpired(): boolean {
    const access = this.#tokens.load()?.access;
    if (access === undefined) return false;
    const left = secondsLeft(access);
    return left !== undefined && left < EXPIRY_MARGIN_SECONDS;
  }

  #withCredentials(method: string, init: RequestInit): RequestInit {
    const headers = new Headers(init.headers);
    // A redirect is not followed with credentials: fetch would carry X-CSRF-Token (and the body)
    // to wherever it points. The caller sees the 3xx (an opaque redirect in browsers).
    const redirect = init.redirect ?? "manual";
    if (this.mode === "bearer") {
      const access = this.#tokens.load()?.access;
      if (access !== undefined) headers.set("authorization", `Bearer ${access}`);
      return { ...init, headers, redirect };
    }
    const csrf = this.#csrfToken();
    if (UNSAFE.has(method) && csrf !== undefined) headers.set("x-csrf-token", csrf);
    return { ...init, headers, redirect, credentials: "include" };
  }

  #signOutLocally(reason: SignOutReason): void {
    const hadSession = this.mode === "cookie" ? this.#csrf !== undefined || readCsrfCookie() !== undefined : this.#tokens.load() !== null;
    this.#csrf = undefined;
    if (this.mode === "bearer") this.#tokens.save(null);
    if (hadSession || reason === "logout") this.#emit({ type: "signedOut", reason });
  }

  #emit(change: AuthChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's failure is the application's; it must not break the client's own state.
      }
    }
  }
}

/** The `code` of a 401 problem, read from a clone so the caller can still read the body. */
async function codeOf(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body.code === "string" ? body.code : undefined;
  } catch {
    return undefined;
  }
}
