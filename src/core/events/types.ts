import type { RequestContext } from "../types.js";

/** The security events of docs/api.md section 10. */
export type EventType =
  | "login.succeeded"
  | "login.failed"
  | "logout"
  | "session.revoked"
  | "refresh.reused"
  | "refresh.grace"
  | "password.changed"
  | "password.reset"
  | "password.reset_requested"
  | "email.changed"
  | "email.change_requested"
  | "email.change_cancelled"
  | "mfa.enabled"
  | "mfa.disabled"
  | "mfa.failed"
  | "mfa.recovery_used"
  | "key.rotated"
  | "account.deleted"
  | `client.${string}`
  | `admin.${string}`;

/** Who acted: the user themself, an admin (their user id), the CLI, or the server on its own. */
export type Actor = "self" | "cli" | "system" | (string & {});

/**
 * A small JSON object of facts about the event: a reason, a scope, a count. Never a secret, a
 * token, a password or what someone typed; keys naming one are dropped (record.ts).
 */
export type EventDetail = Record<string, string | number | boolean | null>;

/** What a flow passes to `recordEvent(core, ...)`. */
export interface EventInput {
  type: EventType;
  /** The account the event is about; null when there is none (a failed login for an unknown email). */
  userId?: string | null | undefined;
  /** The session the event is about (the new one, the revoked one, the caller's). */
  sessionId?: string | null | undefined;
  actor: Actor;
  /** The request's address and user agent, as the endpoint got them (`call.client`). */
  client?: RequestContext | undefined;
  detail?: EventDetail | undefined;
}

/** A recorded event, as the library returns it. */
export interface SecurityEvent {
  id: string;
  type: string;
  userId: string | null;
  sessionId: string | null;
  actor: string;
  ip: string | null;
  userAgent: string | null;
  /** ISO 8601. */
  at: string;
  detail: EventDetail;
}

/** Filters of the admin's event list; one page of at most 50, newest first, after `cursor`. */
export interface EventQuery {
  userId?: string | undefined;
  type?: string | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null | undefined;
}

export interface EventPage {
  events: SecurityEvent[];
  /** Opaque: pass it back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** How the recorder has fared since start: for logs and metrics. */
export interface EventStats {
  /** Handed to the recorder. */
  recorded: number;
  /** Committed to the database. */
  written: number;
  /** Lost because the database did not answer (each batch logged through `onWarning`). */
  failed: number;
  /** Refused because the queue was full (the database too slow for the rate of events). */
  dropped: number;
}
