/**
 * The checker: reads a history (history.ts) and reports every operation that the claim forbids.
 * Pure: no I/O, no clock, no randomness; the same history always gives the same report.
 *
 * The claim (docs/scale-out.md, docs/api.md section 2): after a revoking request has returned, no
 * node accepts a token it revoked; refresh tokens are single use; `token_version` only moves by
 * atomic increments. An operation that ended without a definite answer (no answer, or a 5xx) is
 * indeterminate: it is never counted as a revocation that happened, but it may have happened, at
 * any time after it started.
 *
 * What a completed revocation covers (what no node may accept once it has returned):
 * - logout (scope all): every token of a session of the user that existed before the logout
 *   started (the logout revokes every session and bumps the version);
 * - password change: the same for every other session, and every token of the caller's own
 *   session issued before the change started (the session continues with the new pair only);
 * - logout (scope session), DELETE /sessions/:id, and a refresh answered `401 refresh_reused`:
 *   every token of that session, whenever it was issued (a revoked session stays revoked);
 * - password reset, an email change confirmed, an admin's logout or disable of the user: like
 *   logout (scope all);
 * - turning a second factor on or off: every token of every other session that existed before it
 *   started (the caller's session continues);
 * - account deletion: every token of the user, whenever issued (the sessions are gone);
 * - `tokenver keys revoke <kid>`: every access token signed with that key.
 * A token issued concurrently with a revocation is never assumed covered, except where the state
 * itself forbids any token: a disabled user (until an enable that may have taken effect) and a
 * deleted one get none, and a link (reset, email change) works at most once, and not after a
 * version change that completed after it was sent.
 */
import { ADMIN_OPS, BEARER_OPS, isIndeterminate, LINK_OPS, VERSION_BUMPS, type IssuedToken, type Operation } from "./history.js";

export type ViolationKind =
  /** (a)/(c) a bearer request succeeded with an access token that a completed revocation covered. */
  | "revoked-token-accepted"
  /** (a) a refresh succeeded with a refresh token that a completed revocation covered. */
  | "revoked-refresh-accepted"
  /** (b) one refresh token refreshed successfully more than once. */
  | "refresh-double-success"
  /** (d) a version observed after another, with no completed bump in between, is lower. */
  | "version-regressed"
  /** (d) a version lower than an earlier one plus the bumps that completed in between: an increment lost. */
  | "version-lost-update"
  /** (d) a version higher than an earlier one plus every bump that might have happened in between. */
  | "version-phantom-increment"
  /** A token of a disabled user accepted, or tokens issued to them, after the disable returned (no enable in between). */
  | "disabled-user-accepted"
  /** Tokens issued to a user (a sign-in) after their account's deletion returned. */
  | "deleted-user-accepted"
  /** An access token signed with a key accepted after `tokenver keys revoke` of that key had exited. */
  | "revoked-key-accepted"
  /** A link (reset, email change) that worked twice. */
  | "link-reused"
  /** A link that worked after a version change that completed after it was sent (every link dies then). */
  | "stale-link-accepted";

export type AnomalyKind =
  /** A token accepted after a node had refused it as revoked (`token_revoked`): not forbidden by the claim, but suspicious. */
  | "accepted-after-rejected"
  /** A token issued, by a request that started after the key's revocation, signed with the revoked key (useless, not accepted). */
  | "signed-with-revoked-key";

export interface Finding<K extends string = ViolationKind | AnomalyKind> {
  kind: K;
  message: string;
  /** The operations involved, the offending one first. */
  ops: number[];
  user?: string;
  token?: string;
  session?: string;
}

export interface CheckResult {
  ok: boolean;
  violations: Finding<ViolationKind>[];
  anomalies: Finding<AnomalyKind>[];
  /** Findings left out beyond `maxFindings` (per list). */
  omitted: { violations: number; anomalies: number };
  counts: {
    operations: number;
    indeterminate: number;
    tokens: number;
    users: number;
    sessions: number;
    definiteRevocations: number;
    indeterminateRevocations: number;
    acceptances: number;
    versionObservations: number;
  };
}

export interface CheckOptions {
  /** At most this many findings of each list are kept (default 1000); the rest are counted. */
  maxFindings?: number;
}

interface TokenInfo extends IssuedToken {
  /** The operation whose answer carried it. */
  op: Operation;
}

interface Revocation {
  op: Operation;
  scope: "all" | "password" | "session" | "others" | "user";
  user: string;
  /**
   * "session": the revoked session; "password", "others": the caller's session (which continues);
   * "all": the caller's, if there is one; "user": none.
   */
  session: string;
}

interface Observation {
  op: Operation;
  version: number;
  /** The operation is itself a version bump (a password change: its token carries the bumped version). */
  bump: boolean;
}

interface Bump {
  op: Operation;
  start: number;
  /** Infinity for an indeterminate bump: it may take effect after the client gave up. */
  end: number;
}

/** A request that the server authenticated: the token it presented was accepted. */
export function isAcceptance(op: Operation): boolean {
  if (op.status === null) return false;
  if (op.type === "refresh") return op.status === 200;
  if (!BEARER_OPS.has(op.type)) return false;
  if (op.status >= 200 && op.status < 300) return true;
  // Authentication runs before these answers: the bearer was accepted.
  if (op.type === "session_delete" && op.status === 404) return true;
  if (op.status === 403 && op.code === "invalid_credentials") return true; // a re-check of the password
  if (op.status === 403 && op.code === "code_invalid") return true; // a wrong code turning the factor off
  if (op.type === "mfa_enable" && op.status === 400 && op.code === "code_invalid") return true;
  if (op.status === 409 && (op.code === "mfa_enabled" || op.code === "email_taken")) return true;
  if (ADMIN_OPS.has(op.type) && (op.status === 404 || (op.status === 403 && op.code === "forbidden"))) return true;
  return false;
}

/** Operations that revoke when they succeed (a refresh: when it answers refresh_reused). */
const REVOKING = new Set<string>([
  "refresh",
  "logout_all",
  "logout_session",
  "session_delete",
  "password_change",
  "password_reset",
  "email_confirm",
  "admin_logout",
  "admin_disable",
  "mfa_enable",
  "mfa_disable",
  "account_delete",
]);

/** Operations whose success issues tokens without presenting one (a sign-in). */
const SIGN_INS = new Set(["register", "login", "login_mfa"]);

function succeeded(op: Operation): boolean {
  return op.status !== null && op.status >= 200 && op.status < 300;
}

const rel = (t: number) => `${(t / 1000).toFixed(3)}s`;
const describe = (op: Operation) =>
  `#${op.id} ${op.type} on node ${op.node} [${rel(op.start)}..${rel(op.end)}] -> ${op.status ?? op.error ?? "no answer"}${op.code ? ` ${op.code}` : ""}`;

export function check(operations: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const maxFindings = options.maxFindings ?? 1000;
  const violations: Finding<ViolationKind>[] = [];
  const anomalies: Finding<AnomalyKind>[] = [];
  const omitted = { violations: 0, anomalies: 0 };
  const report = (f: Finding<ViolationKind>) => (violations.length < maxFindings ? violations.push(f) : omitted.violations++);
  const note = (f: Finding<AnomalyKind>) => (anomalies.length < maxFindings ? anomalies.push(f) : omitted.anomalies++);

  // Tokens and sessions, from the answers that carried them.
  const tokens = new Map<string, TokenInfo>();
  const sessionCreated = new Map<string, number>();
  for (const op of operations) {
    for (const t of op.issued ?? []) {
      tokens.set(t.id, { ...t, op });
      // A session exists once the login or registration that made it has answered. If a history
      // shows a session first elsewhere, the later time is the cautious one: it covers less.
      const known = sessionCreated.get(t.session);
      const created = SIGN_INS.has(op.type) ? op.end : Math.max(op.end, known ?? op.end);
      sessionCreated.set(t.session, known === undefined ? created : Math.min(known, created));
    }
  }
  const tokenOf = (op: Operation) => (op.token === undefined ? undefined : tokens.get(op.token));
  /** The user an operation is about: an admin operation's target, else the token's, else the one recorded. */
  const userOf = (op: Operation) => (ADMIN_OPS.has(op.type) ? op.target : (tokenOf(op)?.user ?? op.user ?? op.issued?.[0]?.user));

  // Completed revocations, per user, and the indeterminate ones counted for the report.
  const revocations = new Map<string, Revocation[]>();
  /** Per user: completed disables, enables that may have taken effect, completed deletions. */
  const disables = new Map<string, Operation[]>();
  const enables = new Map<string, Operation[]>();
  const deletions = new Map<string, Operation[]>();
  /** Completed `tokenver keys revoke`, per kid. */
  const keyRevocations = new Map<string, Operation>();
  const add = <T>(map: Map<string, T[]>, key: string, value: T) => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  let indeterminateRevocations = 0;
  for (const op of operations) {
    const t = tokenOf(op);
    const user = userOf(op);
    let revocation: Revocation | undefined;
    if (op.type === "key_revoke") {
      if (succeeded(op)) {
        const seen = keyRevocations.get(op.target!);
        if (seen === undefined || op.end < seen.end) keyRevocations.set(op.target!, op);
      } else if (isIndeterminate(op)) indeterminateRevocations++;
      continue;
    }
    if (op.type === "admin_enable" && (succeeded(op) || isIndeterminate(op))) add(enables, op.target!, op);
    if (user === undefined) continue;
    const session = t?.session ?? "";
    if (t !== undefined && op.type === "logout_all" && op.status === 204) revocation = { op, scope: "all", user, session };
    else if (t !== undefined && op.type === "password_change" && op.status === 200) revocation = { op, scope: "password", user, session };
    else if (t !== undefined && op.type === "logout_session" && op.status === 204) revocation = { op, scope: "session", user, session };
    else if (t !== undefined && op.type === "session_delete" && op.status === 204)
      revocation = { op, scope: "session", user, session: op.target! };
    else if (t !== undefined && op.type === "refresh" && op.status === 401 && op.code === "refresh_reused")
      revocation = { op, scope: "session", user, session };
    else if ((op.type === "password_reset" && op.status === 204) || (op.type === "email_confirm" && op.status === 200))
      revocation = { op, scope: "all", user, session };
    else if ((op.type === "admin_logout" || op.type === "admin_disable") && op.status === 204)
      revocation = { op, scope: "all", user, session: "" };
    else if (t !== undefined && ((op.type === "mfa_enable" && op.status === 200) || (op.type === "mfa_disable" && op.status === 204)))
      revocation = { op, scope: "others", user, session };
    else if (t !== undefined && op.type === "account_delete" && op.status === 204) revocation = { op, scope: "user", user, session };
    else if (isIndeterminate(op) && REVOKING.has(op.type)) indeterminateRevocations++;
    if (op.type === "admin_disable" && op.status === 204) add(disables, user, op);
    if (op.type === "account_delete" && op.status === 204) add(deletions, user, op);
    if (revocation === undefined) continue;
    add(revocations, revocation.user, revocation);
  }
  for (const list of revocations.values()) list.sort((a, b) => a.op.end - b.op.end);

  const created = (session: string) => sessionCreated.get(session) ?? Infinity;
  const covers = (r: Revocation, t: TokenInfo): boolean => {
    switch (r.scope) {
      case "session":
        return t.session === r.session;
      case "all":
        return t.user === r.user && (t.op.end < r.op.start || created(t.session) < r.op.start);
      case "password":
        return t.user === r.user && (t.op.end < r.op.start || (t.session !== r.session && created(t.session) < r.op.start));
      case "others":
        return t.user === r.user && t.session !== r.session && created(t.session) < r.op.start;
      case "user":
        return t.user === r.user;
    }
  };
  const scopeText = (r: Revocation) =>
    r.scope === "all"
      ? "every session of the user"
      : r.scope === "password"
        ? "every other session and the older tokens of its own"
        : r.scope === "others"
          ? "every other session"
          : r.scope === "user"
            ? "the account and every token of it"
            : `session ${r.session}`;

  // (a), (c): no acceptance after a completed revocation that covered the token. Also the anomaly:
  // acceptance after a node refused the token as revoked.
  const firstRevokedAnswer = new Map<string, Operation>();
  for (const op of operations) {
    if (op.token === undefined || op.status !== 401 || op.code !== "token_revoked") continue;
    const seen = firstRevokedAnswer.get(op.token);
    if (seen === undefined || op.end < seen.end) firstRevokedAnswer.set(op.token, op);
  }
  /** The completed disable in force when `op` ran: one that returned before it started, with no enable that may have come between. */
  const disabledBy = (user: string, op: Operation) =>
    (disables.get(user) ?? []).find(
      (d) =>
        d.end < op.start && !(enables.get(user) ?? []).some((e) => e.start < op.end && (isIndeterminate(e) ? Infinity : e.end) > d.start),
    );
  const deletedBy = (user: string, op: Operation) => (deletions.get(user) ?? []).find((d) => d.end < op.start);
  let acceptances = 0;
  for (const op of operations) {
    // A sign-in that issued tokens to a user who was disabled or deleted by then.
    if (SIGN_INS.has(op.type) && succeeded(op)) {
      for (const user of new Set((op.issued ?? []).map((t) => t.user))) {
        const d = disabledBy(user, op);
        if (d !== undefined)
          report({
            kind: "disabled-user-accepted",
            message: `${describe(op)} signed user ${user} in after ${describe(d)} had disabled the account, with no enable since`,
            ops: [op.id, d.id],
            user,
          });
        const x = deletedBy(user, op);
        if (x !== undefined)
          report({
            kind: "deleted-user-accepted",
            message: `${describe(op)} signed user ${user} in after ${describe(x)} had deleted the account`,
            ops: [op.id, x.id],
            user,
          });
      }
    }
    // A token signed with a key whose revocation had returned before the request started.
    for (const t of op.issued ?? []) {
      const k = t.kid === undefined ? undefined : keyRevocations.get(t.kid);
      if (k !== undefined && k.end < op.start)
        note({
          kind: "signed-with-revoked-key",
          message: `${describe(op)} issued access token ${t.id} signed with key ${t.kid}, revoked by ${describe(k)}`,
          ops: [op.id, k.id],
          user: t.user,
          token: t.id,
          session: t.session,
        });
    }
    if (!isAcceptance(op)) continue;
    acceptances++;
    const t = tokenOf(op)!;
    const r = (revocations.get(t.user) ?? []).find((r) => r.op.end < op.start && r.op !== op && covers(r, t));
    const k = op.type === "refresh" || t.kid === undefined ? undefined : keyRevocations.get(t.kid);
    if (k !== undefined && k.end < op.start)
      report({
        kind: "revoked-key-accepted",
        message:
          `access token ${t.id} (signed with key ${t.kid}, issued by #${t.op.id}) was accepted by ${describe(op)}, ` +
          `which started ${(op.start - k.end).toFixed(1)} ms after ${describe(k)} had returned`,
        ops: [op.id, k.id, t.op.id],
        user: t.user,
        token: t.id,
        session: t.session,
      });
    if (r === undefined) {
      // Not covered by a revocation (issued concurrently with it, or later), yet the account's state forbids it.
      const d = disabledBy(t.user, op);
      if (d !== undefined)
        report({
          kind: "disabled-user-accepted",
          message: `token ${t.id} of user ${t.user} (issued by #${t.op.id}) was accepted by ${describe(op)} after ${describe(d)} had disabled the account, with no enable since`,
          ops: [op.id, d.id, t.op.id],
          user: t.user,
          token: t.id,
          session: t.session,
        });
    }
    if (r !== undefined) {
      const refresh = op.type === "refresh";
      report({
        kind: refresh ? "revoked-refresh-accepted" : "revoked-token-accepted",
        message:
          `${refresh ? "refresh" : "access"} token ${t.id} (session ${t.session}, issued by #${t.op.id} ending ${rel(t.op.end)}) ` +
          `was accepted by ${describe(op)}, which started ${(op.start - r.op.end).toFixed(1)} ms after ${describe(r.op)} ` +
          `had returned, revoking ${scopeText(r)}`,
        ops: [op.id, r.op.id, t.op.id],
        user: t.user,
        token: t.id,
        session: t.session,
      });
    }
    const refused = firstRevokedAnswer.get(t.id);
    if (refused !== undefined && refused.end < op.start)
      note({
        kind: "accepted-after-rejected",
        message: `token ${t.id} was refused as revoked by ${describe(refused)}, then accepted by ${describe(op)}`,
        ops: [op.id, refused.id],
        user: t.user,
        token: t.id,
        session: t.session,
      });
  }

  // Links: each works at most once, and never after a version change that completed after it was sent.
  const linkUses = new Map<string, Operation[]>();
  for (const op of operations) if (LINK_OPS.has(op.type) && succeeded(op)) add(linkUses, op.link!, op);
  const byId = new Map(operations.map((op) => [op.id, op]));
  for (const [link, uses] of linkUses) {
    if (uses.length > 1)
      report({
        kind: "link-reused",
        message: `link ${link} (user ${uses[0]!.user}) worked ${uses.length} times: ${uses.map(describe).join("; ")}`,
        ops: uses.map((o) => o.id),
        user: uses[0]!.user!,
      });
  }
  const bumpsOf = new Map<string, Operation[]>();
  for (const op of operations) {
    const user = userOf(op);
    if (user !== undefined && VERSION_BUMPS.has(op.type) && succeeded(op)) add(bumpsOf, user, op);
  }
  for (const uses of linkUses.values())
    for (const use of uses) {
      const sent = use.linkOp === undefined ? undefined : byId.get(use.linkOp);
      if (sent === undefined) continue;
      const bump = (bumpsOf.get(use.user!) ?? []).find((b) => b !== use && b.start > sent.end && b.end < use.start);
      if (bump !== undefined)
        report({
          kind: "stale-link-accepted",
          message: `link ${use.link} (sent for ${describe(sent)}) worked in ${describe(use)}, after ${describe(bump)} had changed the version`,
          ops: [use.id, bump.id, sent.id],
          user: use.user!,
        });
    }

  // (b): a refresh token refreshes at most once.
  const refreshSuccesses = new Map<string, Operation[]>();
  for (const op of operations) {
    if (op.type !== "refresh" || op.status !== 200) continue;
    const list = refreshSuccesses.get(op.token!);
    if (list === undefined) refreshSuccesses.set(op.token!, [op]);
    else list.push(op);
  }
  for (const [id, ops] of refreshSuccesses) {
    if (ops.length < 2) continue;
    const t = tokens.get(id)!;
    report({
      kind: "refresh-double-success",
      message: `refresh token ${id} (session ${t.session}) succeeded ${ops.length} times: ${ops.map(describe).join("; ")}`,
      ops: ops.map((o) => o.id),
      user: t.user,
      token: id,
      session: t.session,
    });
  }

  // (d): versions per user.
  const observations = new Map<string, Observation[]>();
  const definiteBumps = new Map<string, Bump[]>();
  const possibleBumps = new Map<string, Bump[]>();
  const push = <T>(map: Map<string, T[]>, key: string, value: T) => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  let versionObservations = 0;
  for (const op of operations) {
    const user = userOf(op);
    if (user === undefined) continue;
    if (VERSION_BUMPS.has(op.type)) {
      if (succeeded(op)) {
        push(definiteBumps, user, { op, start: op.start, end: op.end });
        push(possibleBumps, user, { op, start: op.start, end: op.end });
      } else if (isIndeterminate(op)) push(possibleBumps, user, { op, start: op.start, end: Infinity });
    }
    if (!succeeded(op)) continue;
    const seen = new Set<number>();
    for (const t of op.issued ?? []) if (t.kind === "access" && t.user === user) seen.add(t.version!);
    if (op.version !== undefined) seen.add(op.version);
    for (const version of seen) {
      push(observations, user, { op, version, bump: VERSION_BUMPS.has(op.type) });
      versionObservations++;
    }
  }
  for (const [user, obs] of observations)
    checkVersions(user, obs, definiteBumps.get(user) ?? [], possibleBumps.get(user) ?? [], report, describe);

  const users = new Set<string>();
  for (const t of tokens.values()) users.add(t.user);
  return {
    ok: violations.length === 0 && omitted.violations === 0,
    violations,
    anomalies,
    omitted,
    counts: {
      operations: operations.length,
      indeterminate: operations.filter(isIndeterminate).length,
      tokens: tokens.size,
      users: users.size,
      sessions: sessionCreated.size,
      definiteRevocations: [...revocations.values()].reduce((n, l) => n + l.length, 0),
      indeterminateRevocations,
      acceptances,
      versionObservations,
    },
  };
}

/** Index of the first element of a sorted array that is > x (upper) or >= x (lower). */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * For observations A and B of one user's version (A's read in [A.start, A.end], B's likewise):
 * - lower bound: if A ended before B started, B >= A + the completed bumps that started after A
 *   ended and ended before B started (+1 if B is itself a completed bump: its own increment);
 * - upper bound: B <= A + every bump, completed or indeterminate, that may have committed
 *   between A's read and B's (ended, or may end, after A started; started before B ended).
 * Each bump is one atomic increment, so both hold whatever the interleaving.
 */
function checkVersions(
  user: string,
  obs: Observation[],
  definite: Bump[],
  possible: Bump[],
  report: (f: Finding<ViolationKind>) => void,
  describe: (op: Operation) => string,
): void {
  // Lower bound. Definite bumps sorted by start; an observation A counts the bumps from index
  // k(A) = #{start <= A.end} on whose end is before B.start. Group A by k, sorted by end, with a
  // running maximum of the version, so each B looks at one candidate per group.
  const byStart = [...definite].sort((a, b) => a.start - b.start);
  const starts = byStart.map((b) => b.start);
  const groups: { ends: number[]; best: Observation[] }[] = Array.from({ length: byStart.length + 1 }, () => ({ ends: [], best: [] }));
  for (const a of [...obs].sort((x, y) => x.op.end - y.op.end)) {
    const g = groups[upperBound(starts, a.op.end)]!;
    const previous = g.best[g.best.length - 1];
    g.ends.push(a.op.end);
    g.best.push(previous !== undefined && previous.version >= a.version ? previous : a);
  }
  for (const b of obs) {
    // suffix[k] = bumps with index >= k that ended before B started.
    const suffix = new Array<number>(byStart.length + 1).fill(0);
    for (let i = byStart.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + (byStart[i]!.end < b.op.start ? 1 : 0);
    let need = -Infinity;
    let witness: Observation | undefined;
    let between = 0;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k]!;
      const n = lowerBound(g.ends, b.op.start); // A.end < B.start
      if (n === 0) continue;
      const a = g.best[n - 1]!;
      const value = a.version + suffix[k]! + (b.bump ? 1 : 0);
      // Of equal bounds, the one with fewer bumps in between says more plainly what went wrong.
      if (value > need || (value === need && suffix[k]! < between)) [need, witness, between] = [value, a, suffix[k]!];
    }
    if (witness !== undefined && b.version < need) {
      const bumps = byStart.filter((r) => r.start > witness!.op.end && r.end < b.op.start);
      report({
        kind: between === 0 && !b.bump ? "version-regressed" : "version-lost-update",
        message:
          `user ${user}: ${describe(b.op)} saw token_version ${b.version}, but ${describe(witness.op)} had seen ${witness.version}` +
          (between > 0 ? ` and ${between} version bump(s) completed in between (${bumps.map((r) => `#${r.op.id}`).join(", ")})` : "") +
          (b.bump ? ", and the operation bumped it itself" : "") +
          `: expected at least ${need}`,
        ops: [b.op.id, witness.op.id, ...bumps.map((r) => r.op.id)],
        user,
      });
    }
  }

  // Upper bound, for A that ended before B started (the other order is the lower bound's). Possible
  // bumps sorted by end; A counts those from index j(A) = #{end < A.start} on whose start is not
  // after B's end. Group A by j, sorted by end, with a running minimum of the version.
  const byEnd = [...possible].sort((a, b) => a.end - b.end);
  const ends = byEnd.map((b) => b.end);
  const lowest: { ends: number[]; best: Observation[] }[] = Array.from({ length: byEnd.length + 1 }, () => ({ ends: [], best: [] }));
  for (const a of [...obs].sort((x, y) => x.op.end - y.op.end)) {
    const g = lowest[lowerBound(ends, a.op.start)]!;
    const previous = g.best[g.best.length - 1];
    g.ends.push(a.op.end);
    g.best.push(previous !== undefined && previous.version <= a.version ? previous : a);
  }
  for (const b of obs) {
    const suffix = new Array<number>(byEnd.length + 1).fill(0);
    for (let i = byEnd.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + (byEnd[i]!.start <= b.op.end ? 1 : 0);
    let allowed = Infinity;
    let witness: Observation | undefined;
    for (let j = 0; j < lowest.length; j++) {
      const g = lowest[j]!;
      const n = lowerBound(g.ends, b.op.start);
      if (n === 0) continue;
      const a = g.best[n - 1]!;
      const value = a.version + suffix[j]!;
      if (value < allowed) [allowed, witness] = [value, a];
    }
    if (witness !== undefined && b.version > allowed) {
      report({
        kind: "version-phantom-increment",
        message:
          `user ${user}: ${describe(b.op)} saw token_version ${b.version}, but ${describe(witness.op)} had seen ${witness.version} ` +
          `and at most ${allowed - witness.version} version bump(s) could have taken effect in between: expected at most ${allowed}`,
        ops: [b.op.id, witness.op.id],
        user,
      });
    }
  }
}
