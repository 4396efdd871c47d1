import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import * as refreshTokens from "../../store/queries/refresh-tokens.js";
import * as sessions from "../../store/queries/sessions.js";
import type { Database } from "../../store/schema.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH } from "../limits.js";
import { DEFAULT_AMR } from "../tokens/access-token.js";
import { generateRefreshToken } from "../tokens/refresh-token.js";
import type { RequestContext, TokenPair } from "../types.js";

/** A new session and its first refresh token, made up front and written inside the caller's transaction. */
export interface PlannedSession {
  sessionId: string;
  refreshToken: string;
  persist(trx: Kysely<Database>): Promise<void>;
}

export function planSession(
  core: Core,
  userId: string,
  tokenVersion: number,
  nowMs: number,
  context: RequestContext,
  amr: readonly string[] = DEFAULT_AMR,
): PlannedSession {
  const sessionId = randomUUID();
  const refresh = generateRefreshToken();
  const now = isoAt(nowMs);
  const expiresAt = isoAt(nowMs + core.config.refreshTtl * 1000);
  return {
    sessionId,
    refreshToken: refresh.token,
    persist: async (trx) => {
      await sessions.insertSession(trx, {
        id: sessionId,
        user_id: userId,
        token_version: tokenVersion,
        now,
        expires_at: expiresAt,
        // An empty User-Agent says nothing: listed as null, like a missing one.
        user_agent: typeof context.userAgent === "string" ? context.userAgent.trim().slice(0, USER_AGENT_MAX_LENGTH) || null : null,
        ip: typeof context.ip === "string" ? context.ip.slice(0, IP_MAX_LENGTH) : null,
        amr: formatAmr(amr),
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

/** A new access token for the session at this version (with the session's `amr`), beside its refresh token. */
export function tokenPair(
  core: Core,
  userId: string,
  sessionId: string,
  tokenVersion: number,
  refreshToken: string,
  amr: readonly string[] = DEFAULT_AMR,
): TokenPair {
  return {
    accessToken: core.sign(userId, sessionId, tokenVersion, amr),
    refreshToken,
    tokenType: "Bearer",
    expiresIn: core.config.accessTtl,
  };
}

/** A session's `amr` as stored (`sessions.amr`, space-separated RFC 8176 values). */
export function formatAmr(amr: readonly string[]): string {
  return amr.join(" ");
}

/** The stored `amr` of a session as the token's claim; an empty or missing one is `["pwd"]`. */
export function parseAmr(stored: string | null | undefined): readonly string[] {
  const values = (stored ?? "").split(" ").filter((v) => v.length > 0);
  return values.length > 0 ? values : DEFAULT_AMR;
}
