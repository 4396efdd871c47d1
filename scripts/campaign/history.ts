/**
 * The history of a campaign: one JSON object per line, each an operation a client made (or a
 * fault the campaign injected). Pure: no I/O here; run.ts writes the lines, check.ts and the
 * checker read them.
 *
 * Secrets never appear: tokens are named by ids the campaign gives them ("a17" an access token,
 * "r9" a refresh token); what the checker needs to know of a token (its user, session and, for an
 * access token, the `token_version` claim) is recorded where the token first appears, in the
 * `issued` list of the operation whose response carried it.
 */

export const OP_TYPES = [
  "register",
  "login",
  "refresh",
  "logout_all",
  "logout_session",
  "password_change",
  "session_delete",
  "profile",
  "sessions_list",
  // The flows that revoke since v2 (docs/api.md sections 7 to 10).
  "password_forgot",
  "password_reset",
  "email_change",
  "email_confirm",
  "account_delete",
  "mfa_start",
  "mfa_enable",
  "mfa_disable",
  "login_mfa",
  "admin_logout",
  "admin_disable",
  "admin_enable",
  "key_revoke",
] as const;
export type OpType = (typeof OP_TYPES)[number];

/** Operations that present an access token (`Authorization: Bearer`). */
export const BEARER_OPS: ReadonlySet<OpType> = new Set([
  "logout_all",
  "logout_session",
  "password_change",
  "session_delete",
  "profile",
  "sessions_list",
  "email_change",
  "account_delete",
  "mfa_start",
  "mfa_enable",
  "mfa_disable",
  "admin_logout",
  "admin_disable",
  "admin_enable",
]);

/** Admin operations: the bearer is the admin's, `target` the user acted on. */
export const ADMIN_OPS: ReadonlySet<OpType> = new Set(["admin_logout", "admin_disable", "admin_enable"]);

/** Operations that consume a link from a mail (`link`, and `linkOp`: the operation that had it sent). */
export const LINK_OPS: ReadonlySet<OpType> = new Set(["password_reset", "email_confirm"]);

/** Operations that increment the user's `token_version` when they take effect. */
export const VERSION_BUMPS: ReadonlySet<OpType> = new Set([
  "logout_all",
  "password_change",
  "password_reset",
  "email_confirm",
  "admin_logout",
  "admin_disable",
]);

/** A token as the response that carried it described it. */
export interface IssuedToken {
  /** The campaign's name for it: unique in the history. */
  id: string;
  kind: "access" | "refresh";
  user: string;
  session: string;
  /** The access token's `token_version` claim. */
  version?: number;
  /** The access token's `kid` header (the signing key). */
  kid?: string;
}

export interface Operation {
  /** Unique in the history. */
  id: number;
  client: number;
  type: OpType;
  /** Which node (0, 1, 2...) the request went to; -1 for a `tokenver` command (key_revoke). */
  node: number;
  /** Monotonic milliseconds of one clock for the whole history: before sending, after the whole answer (or the failure). */
  start: number;
  end: number;
  /** The token presented: the bearer, or the refresh token of a `refresh`. */
  token?: string;
  /**
   * `session_delete`: the session id in the path; an admin operation: the user id in the path;
   * `key_revoke`: the kid.
   */
  target?: string;
  /** The user the request is about, where it is known without a token (register, login, the link flows). */
  user?: string;
  /** A link from a mail (reset, email change): the campaign's name for it ("l4"), on the operation that used it. */
  link?: string;
  /** The operation (password_forgot, email_change) whose request had the link sent. */
  linkOp?: number;
  /** The HTTP status; `null` when no answer came (timeout, connection refused or reset). */
  status: number | null;
  /** The problem's `code` of an error answer. */
  code?: string;
  /** Why no answer came ("timeout", "connection"...). */
  error?: string;
  /** Tokens the answer carried. */
  issued?: IssuedToken[];
  /** `user.token_version` in the answer's body (register, login, profile). */
  version?: number;
}

/** A fault the campaign injected, kept in the same file so that a history replays whole. */
export interface FaultRecord {
  type: "fault";
  fault: string;
  /** The node it hit, if it hit one. */
  node?: number;
  start: number;
  end: number;
  detail?: string;
}

export type HistoryLine = Operation | FaultRecord;

export interface History {
  operations: Operation[];
  faults: FaultRecord[];
}

export class HistoryError extends Error {}

/**
 * An operation that ended without a definite answer: no answer at all, or a 5xx. Like Jepsen's
 * `:info`, it may or may not have taken effect, at any moment after it started (a request can be
 * processed after the client gave up on it).
 */
export function isIndeterminate(op: Operation): boolean {
  return op.status === null || op.status >= 500;
}

/** Parses JSON lines (blank lines ignored) and checks what the checker relies on. */
export function parseHistory(text: string): History {
  const operations: Operation[] = [];
  const faults: FaultRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new HistoryError(`line ${i + 1}: not JSON`);
    }
    if (typeof value !== "object" || value === null) throw new HistoryError(`line ${i + 1}: not an object`);
    if ((value as { type?: unknown }).type === "fault") faults.push(value as FaultRecord);
    else operations.push(value as Operation);
  }
  validateOperations(operations);
  return { operations, faults };
}

export function validateOperations(operations: readonly Operation[]): void {
  const ids = new Set<number>();
  const tokens = new Set<string>();
  for (const op of operations) {
    const where = `operation ${JSON.stringify(op.id)}`;
    if (typeof op.id !== "number" || ids.has(op.id)) throw new HistoryError(`${where}: missing or duplicate id`);
    ids.add(op.id);
    if (!(OP_TYPES as readonly string[]).includes(op.type)) throw new HistoryError(`${where}: unknown type ${JSON.stringify(op.type)}`);
    if (typeof op.start !== "number" || typeof op.end !== "number" || !(op.end >= op.start))
      throw new HistoryError(`${where}: start and end must be numbers with end >= start`);
    if (op.status !== null && typeof op.status !== "number") throw new HistoryError(`${where}: status must be a number or null`);
    if ((BEARER_OPS.has(op.type) || op.type === "refresh") && typeof op.token !== "string")
      throw new HistoryError(`${where}: a ${op.type} names the token it presented`);
    if ((op.type === "session_delete" || op.type === "key_revoke" || ADMIN_OPS.has(op.type)) && typeof op.target !== "string")
      throw new HistoryError(`${where}: a ${op.type} names its target`);
    if (LINK_OPS.has(op.type) && (typeof op.link !== "string" || typeof op.user !== "string"))
      throw new HistoryError(`${where}: a ${op.type} names its link and its user`);
    for (const t of op.issued ?? []) {
      if (typeof t.id !== "string" || tokens.has(t.id)) throw new HistoryError(`${where}: token ${JSON.stringify(t.id)} issued twice`);
      if (t.kind !== "access" && t.kind !== "refresh") throw new HistoryError(`${where}: token ${t.id} has no kind`);
      if (typeof t.user !== "string" || typeof t.session !== "string")
        throw new HistoryError(`${where}: token ${t.id} needs user and session`);
      if (t.kind === "access" && !Number.isInteger(t.version)) throw new HistoryError(`${where}: access token ${t.id} needs its version`);
      tokens.add(t.id);
    }
  }
  for (const op of operations)
    if (op.token !== undefined && !tokens.has(op.token))
      throw new HistoryError(`operation ${op.id}: presents token ${op.token}, which no operation issued`);
}

export function toLine(line: HistoryLine): string {
  return JSON.stringify(line);
}
