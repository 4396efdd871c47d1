import * as sessions from "../../store/queries/sessions.js";
import { isIsoInstant, isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { SESSION_ID_MAX_LENGTH, SESSIONS_CURSOR_MAX_LENGTH, SESSIONS_PAGE_DEFAULT, SESSIONS_PAGE_MAX } from "../limits.js";
import { recordEvent } from "../events/record.js";
import { queueNotice } from "../mail/notice.js";
import { RECHECK_FAILURES } from "../throttle.js";
import type { ListSessionsOptions, Principal, RequestContext, SessionPage } from "../types.js";
import { isStorableId } from "../validation.js";

/**
 * The caller's live sessions, oldest first (ties by id); `current` marks the caller's own. One
 * page of at most `limit` (1 to 100, default 50) after `cursor`; `nextCursor` is null on the last
 * page. A cursor that is not one this function gave is `validation_failed` (field `cursor`).
 */
export async function listSessions(core: Core, principal: Principal, options: ListSessionsOptions = {}): Promise<SessionPage> {
  const limit = options?.limit ?? SESSIONS_PAGE_DEFAULT;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > SESSIONS_PAGE_MAX) {
    throw validationFailed([{ field: "limit", message: `must be an integer from 1 to ${SESSIONS_PAGE_MAX}` }]);
  }
  const cursor = options?.cursor ?? undefined;
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const now = isoAt(core.config.clock());
  // One row more than the page tells whether another page follows.
  const rows = await failClosed(() =>
    sessions.listLiveSessions(core.db, principal.userId, now, { limit: limit + 1, ...(after ? { after } : {}) }),
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    sessions: page.map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      userAgent: r.user_agent,
      current: r.id === principal.sessionId,
    })),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
  };
}

/** The position after a session, as an opaque string: base64url of `[created_at, id]`. */
export function encodeCursor(key: sessions.SessionKey): string {
  return Buffer.from(JSON.stringify([key.created_at, key.id]), "utf8").toString("base64url");
}

export function decodeCursor(cursor: unknown): sessions.SessionKey {
  const bad = () => validationFailed([{ field: "cursor", message: "must be a next_cursor from an earlier page" }]);
  if (typeof cursor !== "string" || cursor.length === 0 || cursor.length > SESSIONS_CURSOR_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw bad();
  }
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!Array.isArray(key) || key.length !== 2) throw bad();
  const [createdAt, id] = key as unknown[];
  if (!isIsoInstant(createdAt)) throw bad();
  if (!isStorableId(id, SESSION_ID_MAX_LENGTH)) throw bad();
  return { created_at: createdAt, id };
}

/** Revokes one of the caller's sessions; `not_found` for an unknown id or another user's. */
export async function revokeSession(core: Core, principal: Principal, sessionId: string, context: RequestContext = {}): Promise<void> {
  const { userId } = principal;
  if (!isStorableId(sessionId, SESSION_ID_MAX_LENGTH)) throw notFound();
  // Made-up and foreign ids end here, before they mark anything or disturb any node's cache.
  if (!(await failClosed(() => sessions.isLiveSession(core.db, userId, sessionId)))) throw notFound();
  const change = await core.revoker.revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
    const revoked = await sessions.revokeSession(trx, userId, sessionId, now);
    return { userId, sessionIds: revoked ? [sessionId] : [] };
  });
  if (change.sessionIds!.length === 0) throw notFound();
  const detail = { reason: "user", current: sessionId === principal.sessionId };
  recordEvent(core, { type: "session.revoked", userId, sessionId, actor: "self", client: context, detail });
}

/**
 * A signed-in user's re-check of their own password (`POST /password`; later `POST /email`,
 * `DELETE /profile` and the second-factor changes, which share the counter): counted per session
 * only (docs/api.md section 8), so failed logins that others make against the account never
 * block it. Resolves to what `check` said (is the password right); the 5th failure of the session
 * within 15 minutes revokes it instead and answers `401 token_revoked`, as every request of that
 * session does from then on.
 */
export async function recheckPassword(core: Core, principal: Principal, check: () => Promise<boolean>): Promise<boolean> {
  const { sessionId } = principal;
  const attempt = await core.throttle.countRecheck(sessionId);
  // The allowance is spent (failures, or guesses still in flight beside this one).
  if (!attempt.allowed) return revokeGuessedSession(core, principal);
  let right: boolean;
  try {
    right = await check();
  } catch (error) {
    // No answer is no failure: the attempt gives its count back.
    await core.throttle.releaseRecheck(sessionId).catch(() => {});
    throw error;
  }
  if (right) {
    await core.throttle.releaseRecheck(sessionId);
    return true;
  }
  if (attempt.failuresIfWrong >= RECHECK_FAILURES) return revokeGuessedSession(core, principal);
  return false;
}

/** Someone holding this session guessed the password too often: the session ends, through the one revocation protocol. */
async function revokeGuessedSession(core: Core, principal: Principal): Promise<never> {
  const { userId, sessionId } = principal;
  const change = await core.revoker.revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
    const revoked = await sessions.revokeSession(trx, userId, sessionId, now);
    // The user hears of it (docs/api.md section 8), once: only the request that revoked it mails.
    if (revoked) await queueNotice(core, userId, "session_revoked_password_guessing", {}, trx);
    return { userId, sessionIds: revoked ? [sessionId] : [] };
  });
  // The event too: a guess that found the session already revoked (by an earlier or a racing request) records none.
  if (change.sessionIds!.length > 0) {
    recordEvent(core, { type: "session.revoked", userId, sessionId, actor: "system", detail: { reason: "password_guessing" } });
  }
  throw new AuthError("token_revoked", "The session was revoked after repeated wrong passwords.", { tokenPresented: true });
}

function notFound(): AuthError {
  return new AuthError("not_found", "No such session.");
}
