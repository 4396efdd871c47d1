import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream: Socket;
  /** The client sent SUBSCRIBE on it (a Redis subscriber connection). */
  subscriber: boolean;
  /** Nothing crosses any more, nothing closes: a peer that vanished without a FIN. */
  silent: boolean;
}

/**
 * A loopback TCP proxy in front of one service (a node's way to PostgreSQL or to Redis), so the
 * campaign can break that one path without touching the service:
 * - `cut()` closes every connection and refuses new ones until `restore()` (the service went away);
 * - `freeze()` holds every byte, both ways, on open and new connections, until `thaw()` delivers
 *   them late (a silent partition);
 * - `dropSubscribers()` closes the connections that subscribed (Redis `CLIENT KILL` of a subscriber);
 * - `silenceSubscribers()` makes them silent for good (the client must notice by itself).
 */
export class Proxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #held: Array<() => void> = [];
  #open = true;
  #frozen = false;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<Proxy> {
    let proxy: Proxy | undefined;
    const server = createServer((client) => proxy!.#accept(client, targetPort, targetHost));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    proxy = new Proxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  #accept(client: Socket, targetPort: number, targetHost: string): void {
    if (!this.#open) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, subscriber: false, silent: false };
    this.#pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    const forward = (from: Socket, to: Socket, fromClient: boolean) =>
      from.on("data", (chunk: Buffer) => {
        if (fromClient && /subscribe/i.test(chunk.toString("latin1"))) pair.subscriber = true;
        if (pair.silent) return;
        if (this.#frozen) this.#held.push(() => pair.silent || to.destroyed || to.write(chunk));
        else if (!to.destroyed) to.write(chunk);
      });
    forward(client, upstream, true);
    forward(upstream, client, false);
  }

  get connections(): number {
    return this.#pairs.size;
  }

  cut(): void {
    this.#open = false;
    this.#held.length = 0;
    for (const p of [...this.#pairs]) p.client.destroy();
  }

  restore(): void {
    this.#open = true;
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const deliver of this.#held.splice(0)) deliver();
  }

  /** How many subscriber connections were closed. */
  dropSubscribers(): number {
    let n = 0;
    for (const p of [...this.#pairs])
      if (p.subscriber) {
        p.client.destroy();
        n++;
      }
    return n;
  }

  silenceSubscribers(): number {
    let n = 0;
    for (const p of this.#pairs)
      if (p.subscriber && !p.silent) {
        p.silent = true;
        n++;
      }
    return n;
  }

  async close(): Promise<void> {
    this.thaw();
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
