import http from "node:http";
import https from "node:https";

export const CONNECT_TIMEOUT_MS = 5_000;
export const TOTAL_TIMEOUT_MS = 10_000;

/** How one POST ended: the status, or why there was none (a short text, never the body). */
export type SendResult = { status: number } | { error: string };

/**
 * POSTs a body once: 5 s to connect, 10 s in all, no redirect followed (a 3xx is a failure like
 * any other: a redirect could point anywhere), the response body read and thrown away. `signal`
 * aborts it (shutdown). Never throws.
 */
export function sendWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal?: AbortSignal,
  timeouts: { connectMs: number; totalMs: number } = { connectMs: CONNECT_TIMEOUT_MS, totalMs: TOTAL_TIMEOUT_MS },
): Promise<SendResult> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const request = client.request(target, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)), "user-agent": "tokenver-webhooks" },
      agent: false,
    });
    const fail = (error: string) => {
      finish({ error });
      request.destroy();
    };
    const connectTimer = setTimeout(() => fail("connect timeout"), timeouts.connectMs);
    const totalTimer = setTimeout(() => fail("timeout"), timeouts.totalMs);
    const onAbort = () => fail("aborted");
    signal?.addEventListener("abort", onAbort);
    if (signal?.aborted) onAbort();
    request.on("socket", (socket) => {
      const connected = () => clearTimeout(connectTimer);
      if (!socket.connecting) connected();
      else socket.once(target.protocol === "https:" ? "secureConnect" : "connect", connected);
    });
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => finish({ status: response.statusCode ?? 0 }));
      response.on("error", () => finish({ status: response.statusCode ?? 0 }));
    });
    // The code only (ECONNREFUSED, ENOTFOUND, ...): a message may carry more than we want in a row.
    request.on("error", (error: NodeJS.ErrnoException) => finish({ error: error.code ?? "request failed" }));
    request.end(body);
  });
}
