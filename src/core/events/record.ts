import { randomBytes } from "node:crypto";
import type { EventRow } from "../../store/queries/events.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import type { EventDetail, EventInput } from "./types.js";

/**
 * Records a security event: one line in a flow, after the fact it records has happened.
 *
 * ```ts
 * recordEvent(core, { type: "logout", userId, sessionId, actor: "self", client: context, detail: { scope } });
 * ```
 *
 * It never throws and never waits: the event goes to the recorder's queue (recorder.ts), which
 * writes it within moments, after the response. Never pass a secret, a token, a password or what a
 * user typed in `detail` (keys that name one are dropped anyway).
 */
export function recordEvent(core: Core, input: EventInput): void {
  try {
    core.events.record(eventRow(input, core.config.clock()));
  } catch {
    // A malformed event is the caller's bug, never the request's failure: the recorder counts it.
    core.events.reject();
  }
}

const TYPE = /^[a-z][a-z_]*(\.[a-z][a-z_]*)*$/;
const FORBIDDEN_KEY = /pass|secret|token(?!_version)|hash|cookie|authorization|otp|code/i;
const MAX_DETAIL_KEYS = 16;
const MAX_DETAIL_STRING = 200;

/** The row as stored: bounded fields, a clean detail object. */
export function eventRow(input: EventInput, nowMs: number): EventRow {
  if (typeof input.type !== "string" || input.type.length > 64 || !TYPE.test(input.type)) throw new TypeError("bad event type");
  if (typeof input.actor !== "string" || input.actor.length === 0 || input.actor.length > 64) throw new TypeError("bad event actor");
  return {
    id: eventId(nowMs),
    type: input.type,
    user_id: input.userId ?? null,
    session_id: input.sessionId ?? null,
    actor: input.actor,
    ip: bounded(input.client?.ip, 64),
    user_agent: bounded(input.client?.userAgent, 512),
    at: isoAt(nowMs),
    detail: JSON.stringify(cleanDetail(input.detail)),
  };
}

let lastMs = -1;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562): the millisecond, then a counter within it, then randomness. Ids sort in the
 * order this process recorded them, so two events of one millisecond list in the order they happened.
 */
export function eventId(nowMs: number): string {
  if (nowMs === lastMs) sequence = (sequence + 1) & 0xfff;
  else {
    lastMs = nowMs;
    sequence = 0;
  }
  const time = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, "0").slice(-12);
  const random = randomBytes(8);
  random[0] = (random[0]! & 0x3f) | 0x80; // the RFC 9562 variant
  const tail = random.toString("hex");
  const counter = (0x7000 | sequence).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8)}-${counter}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

function bounded(value: string | undefined, max: number): string | null {
  return typeof value === "string" && value.length > 0 ? value.slice(0, max) : null;
}

/** At most 16 scalar entries, strings cut to 200 characters, no key that names a secret. */
function cleanDetail(detail: EventDetail | undefined): EventDetail {
  const clean: EventDetail = {};
  if (detail === undefined || detail === null || typeof detail !== "object") return clean;
  for (const [key, value] of Object.entries(detail).slice(0, MAX_DETAIL_KEYS)) {
    if (FORBIDDEN_KEY.test(key)) continue;
    if (typeof value === "string") clean[key] = value.slice(0, MAX_DETAIL_STRING);
    else if (value === null || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) clean[key] = value;
  }
  return clean;
}
