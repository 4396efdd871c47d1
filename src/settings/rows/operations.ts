import type { Setting } from "../table.js";

/** Metrics and graceful shutdown (docs/api.md section 10; docs/operations.md). */
export const OPERATIONS_SETTINGS = [
  {
    // The server turns it on when TOKENVER_METRICS_PORT is set; off, nothing is added to any hot path.
    option: "metrics",
    kind: { type: "boolean" },
    default: false,
    doc: "keep the Prometheus series of docs/operations.md in a registry of this service (`auth.metrics`); the server sets it with `TOKENVER_METRICS_PORT`",
  },
  {
    serverOption: "metricsPort",
    env: "TOKENVER_METRICS_PORT",
    kind: { type: "integer", min: 0, max: 65535, noun: "a port number" },
    defaultText: "unset: no metrics",
    doc: "serve `GET /metrics` (Prometheus text format) on this port, apart from the API",
  },
  {
    serverOption: "metricsHost",
    env: "TOKENVER_METRICS_HOST",
    kind: { type: "string", nonEmpty: true },
    default: "127.0.0.1",
    doc: "address the metrics port listens on",
  },
  {
    // docs/operations.md, "Shutdown and rolling restarts".
    serverOption: "shutdownTimeout",
    env: "TOKENVER_SHUTDOWN_TIMEOUT",
    kind: { type: "integer", min: 0, max: 3600 },
    default: 10,
    doc: "on SIGTERM or SIGINT, seconds to finish the requests in flight before they are cut off (exit code 1)",
  },
] as const satisfies readonly Setting[];
