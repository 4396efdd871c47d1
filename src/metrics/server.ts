import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { Metrics } from "./metrics.js";

/**
 * `GET /metrics` on a port of its own (docs/api.md section 10): Prometheus scrapes it, and it is
 * never exposed where the API is. Anything else is 404; no request reaches the auth service.
 */
export async function listenMetrics(metrics: Metrics, port: number, host: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "").split("?", 1)[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(request.method === "HEAD" ? undefined : text),
      () => response.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("Metrics could not be collected\n"),
    );
  });
  // A scrape is one short request: idle connections need not outlive the process's shutdown.
  server.keepAliveTimeout = 5000;
  server.listen(port, host);
  await Promise.race([once(server, "listening"), once(server, "error").then(([error]) => Promise.reject(error))]);
  return server;
}
