import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer } from "node:net";

/**
 * Graceful shutdown of the Node servers under the app (docs/api.md section 10; the reasoning is in
 * docs/operations.md, "Shutdown and rolling restarts"). `track()` every server the app listens
 * with, then `drain()` on the signal:
 *
 * 1. stop listening: new connections are refused by the kernel from here on;
 * 2. every response not yet started, and every request that arrives from now on, carries
 *    `Connection: close`, so its connection ends after it instead of going back to idle;
 * 3. one turn of the event loop later, close the idle connections. Not at once: a request a client
 *    sent just before the signal may still sit unread in the socket's buffer, and that connection
 *    would look idle; after the turn it has been read and is in flight (Node counts a connection
 *    whose request has begun as busy);
 * 4. wait for the requests in flight, up to the timeout; then cut the connections left.
 */
export class Drain {
  readonly #servers = new Set<Server>();
  readonly #inFlight = new Set<ServerResponse>();
  #draining = false;
  #settled: (() => void) | undefined;

  get draining(): boolean {
    return this.#draining;
  }

  /** Counts the server's requests in flight; returns it, for the app's server factory. */
  track<S extends Server>(server: S): S {
    this.#servers.add(server);
    // Before the app's own listener, which may answer at once (the 503 of /health does).
    server.prependListener("request", (_request: IncomingMessage, response: ServerResponse) => {
      if (this.#draining) closeAfter(response);
      this.#inFlight.add(response);
      response.once("close", () => {
        this.#inFlight.delete(response);
        if (this.#inFlight.size === 0) this.#settled?.();
      });
    });
    return server;
  }

  /**
   * Resolves once no request is in flight (`cutOff` 0), or after `timeoutMs` with the number of
   * requests still unanswered, whose connections it then closes.
   */
  async drain(timeoutMs: number): Promise<{ cutOff: number }> {
    this.#draining = true;
    for (const server of this.#servers) {
      // net's close, not http's: http's would also close the idle connections now (step 3).
      if (server.listening) NetServer.prototype.close.call(server);
    }
    for (const response of this.#inFlight) closeAfter(response);
    // Two check phases apart: at least one poll phase reads whatever the sockets already hold.
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    for (const server of this.#servers) server.closeIdleConnections();
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#settled = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    const cutOff = this.#inFlight.size;
    for (const server of this.#servers) {
      if (cutOff > 0) server.closeAllConnections();
      else server.closeIdleConnections();
    }
    return { cutOff };
  }
}

/** Once answered, the connection closes (a response whose headers went out already cannot say so). */
function closeAfter(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader("connection", "close");
}
