import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { LogoutInput, Principal, RequestContext } from "../types.js";
import { findRefreshTokenRow } from "./refresh.js";

/**
 * Scope `all` (default) increments the user's token version and revokes every session; scope
 * `session` revokes the caller's session, and the session of `refreshToken` if it is the caller's own.
 */
export async function logout(core: Core, principal: Principal, input: LogoutInput = {}, context: RequestContext = {}): Promise<void> {
  const scope = input.scope ?? "all";
  if (scope !== "all" && scope !== "session") throw validationFailed([{ field: "scope", message: "must be all or session" }]);
  const { userId, sessionId } = principal;
  if (scope === "all") {
    await core.revoker.revoke({ userId }, async (trx, now) => {
      const tokenVersion = (await users.incrementTokenVersion(trx, userId, now))!;
      const sessionIds = await sessions.revokeUserSessions(trx, userId, now);
      return { userId, tokenVersion, sessionIds };
    });
    recordEvent(core, { type: "logout", userId, sessionId, actor: "self", client: context, detail: { scope } });
    return;
  }
  const targets = [principal.sessionId];
  // Another user's refresh token is ignored, never revoked (docs/api.md section 3).
  const row = await findRefreshTokenRow(core, input.refreshToken);
  if (row !== undefined && row.user_id === userId && row.session_id !== principal.sessionId) targets.push(row.session_id);
  await core.revoker.revoke({ userId, sessionIds: targets }, async (trx, now) => {
    // The user's row before its sessions, as every revocation of several sessions takes them: two
    // sign-ins ending each other (each naming the other's refresh token) would otherwise lock the
    // two sessions in opposite orders, a deadlock on PostgreSQL (a 503).
    await users.lockUser(trx, core.dialect, userId);
    for (const id of targets) await sessions.revokeSession(trx, userId, id, now);
    return { userId, sessionIds: targets };
  });
  recordEvent(core, { type: "logout", userId, sessionId, actor: "self", client: context, detail: { scope, sessions: targets.length } });
}
