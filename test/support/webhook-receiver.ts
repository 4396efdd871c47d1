import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Delivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** What `Webhook.verify` (the standardwebhooks package) said of each secret, in order. */
  verified: boolean[];
  status: number;
}

/** What the receiver answers: a status, or "hang" (read the request, never answer). */
export type Behaviour = number | "hang" | { redirect: string };

/**
 * A webhook receiver on a loopback port (node:http): it verifies every delivery's signature with
 * the standardwebhooks package's own `Webhook.verify`, answers as told (fails on purpose), and can
 * be stopped and started again on the same port.
 */
export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  behaviour: Behaviour = 204;
  #server: http.Server | undefined;
  #port = 0;
  readonly #verifiers: Webhook[];
  #waiters: Array<() => void> = [];

  constructor(secrets: readonly string[]) {
    this.#verifiers = secrets.map((s) => new Webhook(s));
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  async start(): Promise<this> {
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const headers = {
          "webhook-id": String(request.headers["webhook-id"] ?? ""),
          "webhook-timestamp": String(request.headers["webhook-timestamp"] ?? ""),
          "webhook-signature": String(request.headers["webhook-signature"] ?? ""),
        };
        const verified = this.#verifiers.map((v) => {
          try {
            v.verify(body, headers);
            return true;
          } catch {
            return false;
          }
        });
        const behaviour = this.behaviour;
        const status = typeof behaviour === "number" ? behaviour : behaviour === "hang" ? 0 : 302;
        this.deliveries.push({
          id: headers["webhook-id"],
          timestamp: headers["webhook-timestamp"],
          signature: headers["webhook-signature"],
          body,
          verified,
          status,
        });
        for (const wake of this.#waiters.splice(0)) wake();
        if (behaviour === "hang") return;
        if (typeof behaviour === "object") response.writeHead(302, { location: behaviour.redirect }).end();
        else response.writeHead(behaviour).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.#port, "127.0.0.1", resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Resolves once `count` deliveries have arrived in all. */
  async received(count: number): Promise<void> {
    while (this.deliveries.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A fresh `whsec_` secret. */
export function webhookSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}
