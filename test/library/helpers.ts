import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Express } from "express";
import type { FastifyInstance } from "fastify";
import { Api } from "../support/server.js";

/** A Fastify app of the test on a loopback port. */
export async function listenFastify(app: FastifyInstance): Promise<{ url: string; close(): Promise<void> }> {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

/** An Express app of the test on a loopback port. */
export async function listenExpress(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, "127.0.0.1", (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const PASSWORD = "a long and unguessable passphrase";

export function api(url: string, prefix = ""): Api {
  return new Api(url + prefix);
}

/** The principal a read returns, or the status and code of the AuthError it throws. */
export function userOrError(read: () => unknown): unknown {
  try {
    return read();
  } catch (error) {
    const { status, code } = error as { status: number; code: string };
    return { status, code };
  }
}
