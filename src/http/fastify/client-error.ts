import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { AuthError } from "../../core/errors.js";
import { toProblem } from "../problem.js";

/**
 * Requests that Node's HTTP parser refuses (malformed request lines, conflicting framing, headers
 * over 16 KiB, requests that arrive too slowly) never reach a route or an error handler. Fastify's
 * default answers them in a JSON shape of its own; this answers them as problem+json like every
 * other error, then closes the connection (its framing can no longer be trusted).
 */
export function problemClientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, detail] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "The request headers are too large."]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "The request did not arrive in time."]
        : [400, "The request could not be parsed."];
  const { headers, body } = toProblem(new AuthError("bad_request", detail, { status }));
  const json = JSON.stringify(body);
  // Node's own rule: never write into a response under way (one that began before the request's
  // trickled body timed out); then the connection is only closed.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${headers["content-type"]}\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nX-Content-Type-Options: nosniff\r\n` +
        // The request could not be read, so its own id cannot be trusted: a new one (docs/api.md section 10).
        `X-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}
