import type { Setting } from "../table.js";

/** Security events and webhooks (docs/api.md section 10). */
export const EVENTS_SETTINGS = [
  {
    // Pruned with expired sessions (`pruneInterval`, `auth.prune()`, `tokenver prune`).
    option: "eventRetention",
    env: "TOKENVER_EVENT_RETENTION",
    kind: { type: "integer", min: 1, max: 36_500 },
    default: 90,
    doc: "days security events are kept; older ones go with each prune",
  },
] as const satisfies readonly Setting[];

/** Webhooks (docs/api.md section 10): checked at start-up by core/webhooks/settings.ts. */
export const WEBHOOK_SETTINGS = [
  {
    option: "webhookUrls",
    env: "TOKENVER_WEBHOOK_URLS",
    kind: { type: "string" },
    doc: "comma-separated endpoints every security event is POSTed to (https; http only for loopback addresses)",
  },
  {
    option: "webhookSecret",
    env: "TOKENVER_WEBHOOK_SECRET",
    kind: { type: "string" },
    doc: "Standard Webhooks signing secret (`whsec_` and base64 of at least 24 bytes); several, space-separated, while one rotates",
  },
] as const satisfies readonly Setting[];
