import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { drainServer } from "../src/server.js";
import { startServer } from "./support/server.js";

/** A raw keep-alive connection: `send()` writes, `next()` resolves with the next whole response's head. */
async function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await once(socket, "connect");
  let buffered = "";
  let waiting: (() => void) | undefined;
  socket.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    waiting?.();
  });
  socket.on("error", () => {});
  return {
    socket,
    send: (text: string) => socket.write(text),
    /** The next response: its head and body (bodies here are small and sent with Content-Length). */
    next: async (): Promise<string> => {
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end >= 0) {
          const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
          if (buffered.length >= end + 4 + length) {
            const response = buffered.slice(0, end + 4 + length);
            buffered = buffered.slice(end + 4 + length);
            return response;
          }
        }
        await new Promise<void>((resolve) => (waiting = resolve));
      }
    },
  };
}

test("while draining, /health answers 503 on a connection still open, the request in flight is answered, new connections are refused", async () => {
  const server = await startServer();
  try {
    const idle = await rawConnection(server.url);
    idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(await idle.next(), /^HTTP\/1\.1 200 /);

    const { email, password } = await server.api.register();
    const body = JSON.stringify({ email, password });
    const busy = await rawConnection(server.url);
    busy.send(
      `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));

    const drained = drainServer(server.app, 5000);
    // Sent in the same turn as the signal: read before idle connections are closed, so answered.
    idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const health = await idle.next();
    assert.match(health, /^HTTP\/1\.1 503 /);
    assert.match(health, /connection: close/i);
    assert.match(health, /"code":"service_unavailable"/);

    const refused = await new Promise<string>((resolve) => {
      const { hostname, port } = new URL(server.url);
      connect(Number(port), hostname)
        .on("connect", () => resolve("connected"))
        .on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    });
    assert.equal(refused, "ECONNREFUSED");

    busy.send(body.slice(5));
    const login = await busy.next();
    assert.match(login, /^HTTP\/1\.1 200 /);
    assert.match(login, /connection: close/i);
    assert.deepEqual(await drained, { cutOff: 0 });
  } finally {
    await server.close();
  }
});
