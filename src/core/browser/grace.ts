import { hkdfSync } from "node:crypto";
import * as browser from "../../store/queries/browser.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { open, seal } from "../mail/seal.js";
import { parseAmr, tokenPair } from "../sessions/issue.js";
import { secretMatches } from "../tokens/refresh-token.js";
import type { RequestContext, TokenPair } from "../types.js";

/**
 * The refresh grace (docs/api.md section 6): several tabs refreshing with one token at once all
 * stay signed in. A token rotated by `POST /token/refresh` keeps its successor sealed (AES-256-GCM)
 * under a key derived with HKDF from the token's own secret (never from its stored hash), with the
 * token's id as associated data: only whoever presents the parent token can open it, and the
 * database alone never yields a usable token. The seal is erased when the window ends (seal-sweep.ts),
 * when the successor is used (rotation) and when the session is revoked (core/revoke.ts).
 */
const GRACE_LABEL = "tokenver refresh grace v1";

function graceKey(parentSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(parentSecret, "base64url"), Buffer.alloc(0), Buffer.from(GRACE_LABEL, "utf8"), 32));
}

/** The sealed successor a rotation stores for the grace window; null when the grace is off. */
export function sealSuccessor(core: Core, parent: { id: string; secret: string }, successorToken: string): string | null {
  if (core.config.refreshGrace === 0) return null;
  return seal(graceKey(parent.secret), parent.id, successorToken);
}

/**
 * The grace answer for a used token presented again, or undefined when any condition fails (then
 * it is reuse). Checked in one transaction that locks the session and then the successor, as a
 * rotation and every revocation do, so a revocation of the session, a use of the successor or a
 * version change is either committed before (and seen) or waits for this answer.
 */
export async function refreshWithinGrace(
  core: Core,
  parent: { id: string; secret: string; userId: string; sessionId: string },
  context: RequestContext,
): Promise<TokenPair | undefined> {
  const grace = core.config.refreshGrace;
  if (grace === 0) return undefined;
  const nowMs = core.config.clock();
  const now = isoAt(nowMs);
  const answer = await failClosed(() =>
    core.db.transaction().execute(async (trx) => {
      const row = await browser.findGraceParent(trx, parent.id);
      // By number: a use instant that does not parse is outside the window (fail closed).
      if (row === undefined || row.rotated_by !== "refresh" || row.used_at === null || !(Date.parse(row.used_at) >= nowMs - grace * 1000)) {
        return undefined;
      }
      if (row.successor_id === null || row.successor_sealed === null) return undefined;
      // The session's row first, then the successor's: the order a rotation and every revocation take.
      const state = await browser.lockLiveSession(trx, parent.userId, parent.sessionId, now);
      if (state === undefined || state.disabledAt !== null || state.sessionVersion !== state.userVersion) return undefined;
      const successorHash = await browser.claimUnusedSuccessor(trx, row.successor_id, parent.sessionId, now);
      if (successorHash === undefined) return undefined;
      let successor: string;
      try {
        successor = open(graceKey(parent.secret), parent.id, row.successor_sealed);
      } catch {
        return undefined;
      }
      // The sealed token is the stored successor's (a seal moved between rows would not open).
      const secret = successor.slice(successor.indexOf(".") + 1);
      if (!secretMatches(secret, successorHash)) return undefined;
      return { successor, tokenVersion: state.userVersion, amr: parseAmr(state.amr) };
    }),
  );
  if (answer === undefined) return undefined;
  recordEvent(core, { type: "refresh.grace", userId: parent.userId, sessionId: parent.sessionId, actor: "self", client: context });
  // At the current version, with the session's `amr`, as a rotation answers.
  return tokenPair(core, parent.userId, parent.sessionId, answer.tokenVersion, answer.successor, answer.amr);
}
