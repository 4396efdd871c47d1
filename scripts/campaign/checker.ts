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
 *   every token of that session, whenever it was issued (a revoked session stays revoked).
 * A token issued concurrently with a revocation is never assumed covered.
 */
import { BEARER_OPS, isIndeterminate, VERSION_BUMPS, type IssuedToken, type Operation } from "./history.js";

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
  | "version-phantom-increment";

export type AnomalyKind =
  /** A token accepted after a node had refused it as revoked (`token_revoked`): not forbidden by the claim, but suspicious. */
  "accepted-after-rejected";

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
  scope: "all" | "password" | "session";
  user: string;
  /** "session": the revoked session; "password": the caller's session (which continues); "all": the caller's. */
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
  if (op.type === "password_change" && op.status === 403 && op.code === "invalid_credentials") return true;
  return false;
}

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
      const created = op.type === "register" || op.type === "login" ? op.end : Math.max(op.end, known ?? op.end);
      sessionCreated.set(t.session, known === undefined ? created : Math.min(known, created));
    }
  }
  const tokenOf = (op: Operation) => (op.token === undefined ? undefined : tokens.get(op.token));
  const userOf = (op: Operation) => tokenOf(op)?.user ?? op.user ?? op.issued?.[0]?.user;

  // Completed revocations, per user, and the indeterminate ones counted for the report.
  const revocations = new Map<string, Revocation[]>();
  let indeterminateRevocations = 0;
  for (const op of operations) {
    const t = tokenOf(op);
    if (t === undefined) continue;
    let revocation: Revocation | undefined;
    if (op.type === "logout_all" && op.status === 204) revocation = { op, scope: "all", user: t.user, session: t.session };
    else if (op.type === "password_change" && op.status === 200) revocation = { op, scope: "password", user: t.user, session: t.session };
    else if (op.type === "logout_session" && op.status === 204) revocation = { op, scope: "session", user: t.user, session: t.session };
    else if (op.type === "session_delete" && op.status === 204) revocation = { op, scope: "session", user: t.user, session: op.target! };
    else if (op.type === "refresh" && op.status === 401 && op.code === "refresh_reused")
      revocation = { op, scope: "session", user: t.user, session: t.session };
    else if (
      isIndeterminate(op) &&
      (op.type === "refresh" || (BEARER_OPS.has(op.type) && op.type !== "profile" && op.type !== "sessions_list"))
    )
      indeterminateRevocations++;
    if (revocation === undefined) continue;
    const list = revocations.get(revocation.user) ?? [];
    list.push(revocation);
    revocations.set(revocation.user, list);
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
    }
  };
  const scopeText = (r: Revocation) =>
    r.scope === "all"
      ? "every session of the user"
      : r.scope === "password"
        ? "every other session and the older tokens of its own"
        : `session ${r.session}`;

  // (a), (c): no acceptance after a completed revocation that covered the token. Also the anomaly:
  // acceptance after a node refused the token as revoked.
  const firstRevokedAnswer = new Map<string, Operation>();
  for (const op of operations) {
    if (op.token === undefined || op.status !== 401 || op.code !== "token_revoked") continue;
    const seen = firstRevokedAnswer.get(op.token);
    if (seen === undefined || op.end < seen.end) firstRevokedAnswer.set(op.token, op);
  }
  let acceptances = 0;
  for (const op of operations) {
    if (!isAcceptance(op)) continue;
    acceptances++;
    const t = tokenOf(op)!;
    const r = (revocations.get(t.user) ?? []).find((r) => r.op.end < op.start && r.op !== op && covers(r, t));
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
    if (VERSION_BUMPS.has(op.type) && op.token !== undefined) {
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
