/** The API's `user` (docs/api.md section 3), with the v2 members and any custom fields. */
export interface ClientUser {
  id: string;
  email: string;
  username: string | null;
  token_version: number;
  created_at: string;
  email_verified?: boolean;
  mfa_enabled?: boolean;
  recovery_codes_left?: number;
  role?: "user" | "admin";
  disabled?: boolean;
  [field: string]: unknown;
}

export type ClientMode = "cookie" | "bearer";

/** The bearer pair. */
export interface Tokens {
  access: string;
  refresh: string;
}

/**
 * Where bearer mode keeps its pair (memory by default, so a page reload signs out). Give one
 * backed by storage the tabs share to keep the session across reloads and tabs; anything script
 * can read, an XSS can read too (docs/browser.md): cookie mode keeps tokens out of reach.
 */
export interface TokenStore {
  load(): Tokens | null;
  save(tokens: Tokens | null): void;
}

export interface ClientOptions {
  /** The API's address, with any mount prefix: `https://example.com/auth`. */
  baseUrl: string;
  /** `cookie` (browsers: tokens in HttpOnly cookies) or `bearer` (Node, other sites). */
  mode: ClientMode;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Bearer mode only: where the pair is kept; memory when absent. */
  tokenStore?: TokenStore;
  /**
   * Origins besides the API's own to which `client.fetch` sends the credentials (your own API on
   * another origin). Requests anywhere else go out without them, so a token never leaks to a
   * third party through a mistyped URL.
   */
  credentialOrigins?: readonly string[];
}

/** Why the client no longer holds a session. */
export type SignOutReason = "logout" | "revoked" | "reused" | "expired";

export type AuthChange = { type: "signedIn"; user: ClientUser } | { type: "signedOut"; reason: SignOutReason };

export type SignInResult =
  | { status: "signed_in"; user: ClientUser }
  | {
      status: "mfa_required";
      /** Opaque, single use, 300 s. */
      mfaToken: string;
      /** The second step: a current TOTP code or a recovery code. */
      submitCode(code: string): Promise<SignInResult>;
    };

export interface SignUpResult {
  user: ClientUser;
  /** False where the server requires a verified email first (no session until then). */
  signedIn: boolean;
}
