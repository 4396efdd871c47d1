/**
 * Every length limit of tokenver, defined once. The HTTP schemas, the domain's checks and the
 * messages all read them from here; the database columns are at least this wide.
 */

/** RFC 5321 4.5.3.1.3: a forward path is at most 256 octets including the angle brackets. */
export const EMAIL_MAX_LENGTH = 254;
/** A display name, in code points. */
export const USERNAME_MAX_LENGTH = 64;
/** The password policy, in code points (docs/api.md section 3). */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/** What the request schemas take before the policy speaks (room for multi-unit characters). */
export const PASSWORD_INPUT_MAX_LENGTH = 1024;
/** A refresh token is `id.secret`, far shorter; longer input is not one. */
export const REFRESH_TOKEN_MAX_LENGTH = 512;
/** Stored on the session as sent, cut to this many characters. */
export const USER_AGENT_MAX_LENGTH = 512;
export const IP_MAX_LENGTH = 64;
/** Session ids are UUIDs; anything longer is no session of ours. */
export const SESSION_ID_MAX_LENGTH = 64;
/** GET /sessions pages: `limit` from 1 to this, this default; a cursor longer than this is no cursor of ours. */
export const SESSIONS_PAGE_MAX = 100;
export const SESSIONS_PAGE_DEFAULT = 50;
export const SESSIONS_CURSOR_MAX_LENGTH = 256;
/** Request bodies of the endpoints (docs/api.md section 3: over 64 KiB is 413). */
export const BODY_LIMIT_BYTES = 64 * 1024;
