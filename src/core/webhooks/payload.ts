import { Webhook } from "standardwebhooks";
import type { EventRow } from "../../store/queries/events.js";

/**
 * The body POSTed for an event: `{type, timestamp, data}` (Standard Webhooks), `data` the event as
 * `GET /events` shows it plus the user's `token_version` when the batch was written (after the
 * change the event records: a gateway learns the version that is now current). Built once, stored
 * in the outbox, and sent byte for byte on every attempt.
 */
export function webhookPayload(row: EventRow, tokenVersion: number | null): string {
  return JSON.stringify({
    type: row.type,
    timestamp: row.at,
    data: {
      id: row.id,
      type: row.type,
      user_id: row.user_id ?? null,
      session_id: row.session_id ?? null,
      actor: row.actor,
      ip: row.ip ?? null,
      user_agent: row.user_agent ?? null,
      at: row.at,
      detail: JSON.parse(row.detail ?? "{}") as unknown,
      token_version: tokenVersion,
    },
  });
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` is the event's id (the same on every
 * attempt, so receivers drop duplicates), `webhook-timestamp` the attempt's second, and one
 * `v1,<base64 HMAC-SHA256>` per secret, space-separated, by the standardwebhooks package.
 */
export function signedHeaders(signers: readonly Webhook[], eventId: string, nowMs: number, body: string): Record<string, string> {
  const at = new Date(nowMs);
  return {
    "content-type": "application/json",
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(nowMs / 1000)),
    "webhook-signature": signers.map((s) => s.sign(eventId, at, body)).join(" "),
  };
}
