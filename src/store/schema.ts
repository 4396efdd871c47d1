import type { Generated } from "kysely";

/**
 * The tables, typed for Kysely. Timestamps are ISO 8601 strings in UTC in both dialects as the
 * code sees them (`isoAt`'s shape, milliseconds always): one representation, lexicographic order
 * equals time order, and no driver-specific Date types. Stored as text on SQLite and, since
 * migration 0013, as `timestamptz` on PostgreSQL (the custom fields as `jsonb`), read back as the
 * same strings by tokenver's own type parsers (store/pg-types.ts).
 */
export interface UsersTable {
  id: string;
  /** Trimmed and lower-cased; unique in the database. */
  email: string;
  username: string | null;
  password_hash: string;
  token_version: Generated<number>;
  /** JSON object of the application's custom user fields (jsonb on PostgreSQL, read as its text). */
  profile: string;
  created_at: string;
  updated_at: string;
  /** `user` or `admin` (docs/api.md section 10); read from here on every admin request, never from a token. */
  role: Generated<Role>;
  /** When an administrator disabled the account; null while it is enabled. */
  disabled_at: Generated<string | null>;
  /** When the second factor was turned on (docs/api.md section 9); null while it is off. */
  mfa_enabled_at: Generated<string | null>;
  /** How many unused recovery codes the user holds; kept with each conditional consumption. */
  recovery_codes_left: Generated<number>;
  /** When the address was proven by a link (null: unverified); docs/recovery.md says why older accounts count as verified. */
  email_verified_at: Generated<string | null>;
}

export type Role = "user" | "admin";

export interface SessionsTable {
  id: string;
  user_id: string;
  /** The user's token_version when this session was created or last re-keyed: a session whose
   * version is behind the user's is dead, so a version bump revokes every session at once. */
  token_version: number;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  revoked_at: string | null;
  user_agent: string | null;
  ip: string | null;
  /** RFC 8176 `amr` values of the sign-in, space-separated (`pwd`, `pwd otp mfa`, `pwd mfa`). */
  amr: Generated<string>;
  /** Part of the session's CSRF tokens (docs/api.md section 6): moved on by a password or second-factor change. */
  csrf_epoch: Generated<number>;
}

export interface RefreshTokensTable {
  /** Public half of the `id.secret` token: the lookup key. */
  id: string;
  session_id: string;
  /** SHA-256 of the secret half, hex. The secret itself is never stored. */
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** Set when the token was revoked without its session (the session was re-keyed). */
  revoked_at: string | null;
  /** How the token was used: `refresh` (POST /token/refresh, the only way that allows the grace); null while unused. */
  rotated_by: Generated<string | null>;
  /** The id of the token that replaced it (a rotation by refresh). */
  successor_id: Generated<string | null>;
  /** The successor sealed for the grace window (core/browser/grace.ts); null outside it. */
  successor_sealed: Generated<string | null>;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  tokenver_meta: MetaTable;
  mail_outbox: MailOutboxTable;
  tokenver_events: EventsTable;
  tokenver_webhook_outbox: WebhookOutboxTable;
  tokenver_webhook_dead_letters: WebhookDeadLettersTable;
  tokenver_webhook_endpoints: WebhookEndpointsTable;
  tokenver_leases: LeasesTable;
  tokenver_totp: TotpTable;
  tokenver_recovery_codes: RecoveryCodesTable;
  tokenver_mfa_challenges: MfaChallengesTable;
  tokenver_links: LinksTable;
  tokenver_signing_keys: SigningKeysTable;
  tokenver_revoked_keys: RevokedKeysTable;
  tokenver_clients: ClientsTable;
}

// A second factor (docs/api.md section 9; migration 0010_mfa).

/** A user's TOTP secret: pending until `enabled_at` is set by a confirmation. */
export interface TotpTable {
  user_id: string;
  /** The base32 secret sealed with AES-256-GCM under a derived key (core/mfa/totp.ts). */
  secret: string;
  enabled_at: string | null;
  /** The last time step a code was accepted for; a code is accepted only for a later step. */
  last_step: number | null;
  created_at: string;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  /** HMAC-SHA-256 of the normalised code, hex. */
  code_hash: string;
  used_at: string | null;
  created_at: string;
}

/** A sign-in waiting for its second factor: the `mfa_token`'s row. */
export interface MfaChallengesTable {
  /** Public half of the `id.secret` token. */
  id: string;
  /** SHA-256 of the secret half, hex. */
  token_hash: string;
  user_id: string;
  token_version: number;
  /** `bearer` or `cookie`: the mode of the /login that made it. */
  mode: string;
  failures: Generated<number>;
  used_at: string | null;
  expires_at: string;
  created_at: string;
}

/** What a mailed link is for (docs/api.md section 8). */
export type LinkPurpose = "reset" | "verify" | "email_change" | "email_cancel";

/** The token of a mailed link, stored only as its hash (migration 0009_recovery). */
export interface LinksTable {
  /** SHA-256 of the token, hex: the token itself is never stored. */
  token_hash: string;
  user_id: string;
  purpose: LinkPurpose;
  /** The account's address when the link was made: the link dies if it changes. */
  email: string;
  /** An email change's new address (where its confirmation link went). */
  new_email: string | null;
  /** The user's token version when the link was made: the link dies when it changes. */
  token_version: number;
  created_at: string;
  expires_at: string;
}

/** A mail not yet handed to the transport (core/mail/outbox.ts). */
export interface MailOutboxTable {
  id: string;
  /** The template's name: what the logs may say about a mail (never its address or content). */
  template: string;
  /** The rendered mail, sealed (core/mail/seal.ts); emptied when the mail is given up. */
  payload: string;
  /** `pending` until sent (then the row is deleted) or given up (`failed`). */
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: string;
  /** The node holding the row while it sends it, until `lease_until`. */
  lease_owner: string | null;
  lease_until: string | null;
  /** The last failure's code (never a server's message, which may quote the address). */
  last_error: string | null;
  created_at: string;
}

// Security events and webhooks (docs/api.md section 10; migration 0005_events).

/** One security event. Never a secret, token or password: `detail` is a small JSON object. */
export interface EventsTable {
  id: string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  /** `self`, an admin's user id, `cli` or `system`. */
  actor: string;
  ip: string | null;
  user_agent: string | null;
  at: string;
  /** JSON object. */
  detail: string;
}

/** One event for one webhook endpoint, until it is delivered or dead-lettered. */
export interface WebhookOutboxTable {
  id: string;
  event_id: string;
  url: string;
  /** The JSON body, exactly as signed and sent on every attempt. */
  payload: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
}

export interface WebhookDeadLettersTable {
  id: string;
  event_id: string;
  url: string;
  payload: string;
  attempts: number;
  last_error: string | null;
  created_at: string;
  failed_at: string;
}

export interface WebhookEndpointsTable {
  url: string;
  disabled_at: string;
  reason: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

// Signing keys and service clients (docs/api.md section 7; migration 0008_signing_keys).

/** A key `tokenver keys revoke` removed: never added again (core/keys/ensure-keys.ts refuses it). */
export interface RevokedKeysTable {
  kid: string;
  revoked_at: string;
}

/** A key that signs, will sign or still verifies (core/keys/). */
export interface SigningKeysTable {
  kid: string;
  alg: string;
  /** Sealed (AES-256-GCM, the kid as associated data); null: the server secret is the key (HS256). */
  private_key: string | null;
  /** The public JWK (asymmetric keys only). */
  public_jwk: string | null;
  created_at: string;
  /** When it signs from (next until then). */
  activate_at: string;
  /** When it stops verifying (a later key signs; its last token has expired); null: while current. */
  retire_after: string | null;
}

/** A service client of introspection. */
export interface ClientsTable {
  id: string;
  name: string;
  /** HMAC-SHA-256 of the secret under a derived key, base64url. */
  secret_hash: string;
  created_at: string;
}
