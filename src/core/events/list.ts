import * as events from "../../store/queries/events.js";
import type { Core } from "../context.js";
import { isIsoInstant } from "../clock.js";
import { failClosed, validationFailed } from "../errors.js";
import type { Principal } from "../types.js";
import type { EventDetail, EventPage, EventQuery, SecurityEvent } from "./types.js";
import { isStorableId, HOLDS_NUL } from "../validation.js";

/** GET /events: the caller's own last 50, newest first (docs/api.md section 10). */
export const OWN_EVENTS = 50;
/** GET /admin/events: a page of 50. */
export const EVENTS_PAGE = 50;
const CURSOR_MAX_LENGTH = 256;
const FILTER_MAX_LENGTH = 64;

/**
 * The caller's own last 50 events, newest first. This node's queued events are written first, so
 * a client sees what its own requests just recorded.
 */
export async function listOwnEvents(core: Core, principal: Principal): Promise<SecurityEvent[]> {
  await core.events.flush();
  const rows = await failClosed(() => events.listEvents(core.db, { userId: principal.userId, limit: OWN_EVENTS }));
  return rows.map(toEvent);
}

/**
 * Every account's events, newest first, filtered by user and type, a page of 50 after `cursor`.
 * For administrators only: the caller checks the role (the endpoint's `access: "admin"`).
 */
export async function listEvents(core: Core, query: EventQuery = {}): Promise<EventPage> {
  const userId = filter(query.userId, "user_id");
  const type = filter(query.type, "type");
  const cursor = query.cursor ?? undefined;
  const before = cursor === undefined ? undefined : decodeCursor(cursor);
  await core.events.flush();
  const rows = await failClosed(() =>
    events.listEvents(core.db, {
      limit: EVENTS_PAGE + 1,
      ...(userId === undefined ? {} : { userId }),
      ...(type === undefined ? {} : { type }),
      ...(before === undefined ? {} : { before }),
    }),
  );
  const page = rows.slice(0, EVENTS_PAGE);
  const last = page.at(-1);
  return {
    events: page.map(toEvent),
    nextCursor: rows.length > EVENTS_PAGE && last !== undefined ? encodeCursor({ at: last.at, id: last.id }) : null,
  };
}

function filter(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > FILTER_MAX_LENGTH) {
    throw validationFailed([{ field, message: `must be a string of at most ${FILTER_MAX_LENGTH} characters` }]);
  }
  if (value.includes("\u0000")) throw validationFailed([{ field, message: HOLDS_NUL }]);
  return value;
}

export function toEvent(row: {
  id: string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  at: string;
  detail: string;
}): SecurityEvent {
  return {
    id: row.id,
    type: row.type,
    userId: row.user_id,
    sessionId: row.session_id,
    actor: row.actor,
    ip: row.ip,
    userAgent: row.user_agent,
    at: row.at,
    detail: parseDetail(row.detail),
  };
}

function parseDetail(text: string): EventDetail {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as EventDetail) : {};
  } catch {
    return {};
  }
}

/** The position after an event, as an opaque string: base64url of `[at, id]`. */
function encodeCursor(key: events.EventKey): string {
  return Buffer.from(JSON.stringify([key.at, key.id]), "utf8").toString("base64url");
}

function decodeCursor(cursor: unknown): events.EventKey {
  const bad = () => validationFailed([{ field: "cursor", message: "must be a next_cursor from an earlier page" }]);
  if (typeof cursor !== "string" || cursor.length === 0 || cursor.length > CURSOR_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw bad();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!Array.isArray(key) || key.length !== 2) throw bad();
  const [at, id] = key as unknown[];
  if (!isIsoInstant(at)) throw bad();
  if (!isStorableId(id, 64)) throw bad();
  return { at, id };
}
