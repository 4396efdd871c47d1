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
