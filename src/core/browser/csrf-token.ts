import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import { incrementCsrfEpoch, readCsrfEpoch } from "../../store/queries/browser.js";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import type { Principal } from "../types.js";

/**
 * The session's CSRF token (docs/api.md section 6; OWASP's signed double-submit cookie):
 * `nonce.HMAC(K_csrf, session id, epoch, nonce)`. K_csrf is derived from the server secret with a
 * label of its own; the epoch is stored on the session and moves on with a password or
 * second-factor change (`advanceCsrfEpoch`), so the tokens handed out before stop working.
 * Any token of the current epoch is accepted: every tab keeps working after another refreshed.
 */
export const CSRF_KEY_LABEL = "tokenver csrf v1";

const NONCE = /^[A-Za-z0-9_-]{22}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

function mac(key: Buffer, sessionId: string, epoch: number, nonce: string): string {
  // Newline-separated: none of the three parts can hold one, so the input is unambiguous.
  return createHmac("sha256", key).update(`${sessionId}\n${epoch}\n${nonce}`).digest("base64url");
}

/** A fresh CSRF token of the session at its current epoch; undefined when the session is not live. */
export async function issueCsrfToken(core: Core, userId: string, sessionId: string): Promise<string | undefined> {
  const epoch = await failClosed(() => readCsrfEpoch(core.db, userId, sessionId));
  if (epoch === undefined) return undefined;
  const nonce = randomBytes(16).toString("base64url");
  return `${nonce}.${mac(core.deriveKey(CSRF_KEY_LABEL), sessionId, epoch, nonce)}`;
}

/** Throws `403 csrf_failed` unless `token` is a CSRF token of the principal's session at its current epoch. */
export async function checkCsrfToken(core: Core, principal: Principal, token: string | undefined): Promise<void> {
  const dot = typeof token === "string" ? token.indexOf(".") : -1;
  const nonce = dot === -1 ? "" : token!.slice(0, dot);
  const given = dot === -1 ? "" : token!.slice(dot + 1);
  if (!NONCE.test(nonce) || !MAC.test(given)) throw csrfFailed("Send the X-CSRF-Token header with this session's CSRF token.");
  const epoch = await failClosed(() => readCsrfEpoch(core.db, principal.userId, principal.sessionId));
  if (epoch === undefined) throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
  const expected = Buffer.from(mac(core.deriveKey(CSRF_KEY_LABEL), principal.sessionId, epoch, nonce), "utf8");
  if (!timingSafeEqual(expected, Buffer.from(given, "utf8"))) throw csrfFailed("The CSRF token is not this session's current one.");
}

/**
 * The hook for every flow that must retire a session's CSRF tokens (a password change, a
 * second-factor change): call it inside that flow's transaction. Tokens issued before stop being
 * accepted; the flow's answer must carry a fresh one (cookie mode does that for token-issuing rows).
 */
export async function advanceCsrfEpoch(db: Kysely<Database>, sessionId: string): Promise<void> {
  await incrementCsrfEpoch(db, sessionId);
}

export function csrfFailed(detail: string): AuthError {
  return new AuthError("csrf_failed", detail);
}
