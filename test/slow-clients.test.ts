// Slow and idle clients cannot hold the server (docs/api.md section 3): a request must arrive
// whole within TOKENVER_REQUEST_TIMEOUT, idle keep-alive connections close after
// TOKENVER_KEEPALIVE_TIMEOUT, and TOKENVER_MAX_CONNECTIONS caps the connections of a process.
// Real sockets (node:net), so nothing in between buffers, retries or pools.
import assert from "node:assert/strict";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { createAuth, type Auth } from "../src/create-auth.js";
import { buildServer, type BuildServerOptions } from "../src/server.js";
import { startCliServer } from "./support/process.js";
import { TEST_SECRET } from "./support/server.js";

interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the milliseconds from connecting to the close. */
  closed: Promise<number>;
}

/** A TCP connection of our own; resolves once connected. */
async function open(port: number): Promise<RawConnection> {
  const started = performance.now();
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(performance.now() - started)));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("close", () => reject(new Error("closed before connecting")));
  });
  return { socket, received: () => received, closed };
}

/** Whether the connection is closed within `ms`: the time it took, or undefined if still open. */
async function closedWithin(connection: RawConnection, ms: number): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([connection.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The 408 problem+json that a request cut by the timeout gets, read off the wire. */
function assert408(raw: string, what: string): void {
  assert.match(raw, /^HTTP\/1\.1 408 Request Timeout\r\n/, `${what}: status line`);
  assert.match(raw, /\r\nContent-Type: application\/problem\+json\r\n/i, `${what}: content type`);
  const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as { status: number; code: string };
  assert.equal(body.status, 408, `${what}: body status`);
  assert.equal(body.code, "bad_request", `${what}: body code`);
}

/** GET /health on a connection of its own that asks to be closed: 200 or the reason it was not. */
async function healthOnce(port: number): Promise<string> {
  const connection = await open(port).catch((error: Error) => ({ failed: error.message }));
  if ("failed" in connection) return connection.failed;
  connection.socket.write("GET /health HTTP/1.1\r\nHost: tokenver\r\nConnection: close\r\n\r\n");
  await connection.closed;
  return connection.received().split("\r\n")[0] || "closed without a response";
}

describe("slow and idle clients (buildServer with short timeouts)", () => {
  let auth: Auth;
  const servers: FastifyInstance[] = [];
  before(async () => {
    auth = await createAuth({ secret: TEST_SECRET, databaseUrl: "sqlite::memory:" });
  });
  after(async () => {
    for (const app of servers) await app.close();
    await auth.close();
  });

  async function serve(options: BuildServerOptions): Promise<number> {
    const app = await buildServer(auth, options);
    servers.push(app);
    await app.listen({ port: 0, host: "127.0.0.1" });
    return (app.server.address() as AddressInfo).port;
  }

  test("a connection that sends nothing is cut with 408 once the request timeout has run out", async () => {
    const port = await serve({ requestTimeout: 1 });
    const silent = await open(port);
    const ms = await closedWithin(silent, 3000);
    assert.ok(ms !== undefined, "still open after 3 s with a 1 s request timeout");
    assert.ok(ms >= 900, `closed after ${ms} ms: not before the timeout`);
    assert408(silent.received(), "silent connection");
  });

  test("headers trickled one byte per 100 ms are cut at the request timeout", async () => {
    const port = await serve({ requestTimeout: 1 });
    const slow = await open(port);
    const request = `GET /health HTTP/1.1\r\nHost: tokenver\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`;
    let sent = 0;
    const drip = setInterval(() => {
      if (!slow.socket.destroyed && sent < request.length) slow.socket.write(request[sent++]!);
    }, 100);
    try {
      const ms = await closedWithin(slow, 4000);
      assert.ok(ms !== undefined, "still open after 4 s with a 1 s request timeout");
      assert.ok(sent < request.length, "cut before the headers were complete");
      assert408(slow.received(), "trickled headers");
    } finally {
      clearInterval(drip);
    }
  });

  test("a body trickled one byte per 500 ms is cut at the request timeout, before the handler sees it", async () => {
    const port = await serve({ requestTimeout: 2 });
    const slow = await open(port);
    const body = JSON.stringify({ email: "slow@example.com", password: "a long and unguessable passphrase" });
    slow.socket.write(`POST /login HTTP/1.1\r\nHost: tokenver\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    let sent = 0;
    const drip = setInterval(() => {
      if (!slow.socket.destroyed && sent < body.length) slow.socket.write(body[sent++]!);
    }, 500);
    try {
      const ms = await closedWithin(slow, 5000);
      assert.ok(ms !== undefined, "still open after 5 s with a 2 s request timeout");
      assert.ok(ms >= 1900, `closed after ${ms} ms: not before the timeout`);
      assert.ok(sent < 10, `${sent} bytes of the body were sent: cut early`);
      assert408(slow.received(), "trickled body");
    } finally {
      clearInterval(drip);
    }
  });

  test("an idle keep-alive connection is closed after the keep-alive timeout; a busy one is not", async () => {
    const port = await serve({ requestTimeout: 30, keepAliveTimeout: 1 });
    const client = await open(port);
    const ask = () => client.socket.write("GET /health HTTP/1.1\r\nHost: tokenver\r\n\r\n");
    const responses = () => client.received().split("HTTP/1.1 200 OK").length - 1;
    ask();
    // Reused within the timeout, twice: the connection stays.
    for (let i = 2; i <= 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(await closedWithin(client, 0), undefined, "closed while in use");
      ask();
    }
    const idleFrom = performance.now();
    const ms = await closedWithin(client, 4000);
    assert.ok(ms !== undefined, "an idle connection still open 4 s after its last response (keep-alive timeout 1 s)");
    const idle = performance.now() - idleFrom;
    // Node keeps the socket one second past the advertised timeout, so that a request the client
    // sends at the very end is not lost: closed between 1 and about 2 seconds after the response.
    assert.ok(idle >= 900, `closed after ${idle} ms of idleness: not before the timeout`);
    assert.equal(responses(), 3, "every request on it was answered");
    assert.match(client.received(), /\r\nKeep-Alive: timeout=1\r\n/, "the timeout is announced");
  });

  test("connections over the cap are closed at once; /health answers again once they are gone", async () => {
    const port = await serve({ requestTimeout: 2, keepAliveTimeout: 1, maxConnections: 3 });
    const held = await Promise.all([open(port), open(port), open(port)]);
    // The server counts a connection once it has accepted it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 3; i++) {
      const extra = await open(port);
      extra.socket.write("GET /health HTTP/1.1\r\nHost: tokenver\r\n\r\n");
      const ms = await closedWithin(extra, 1000);
      assert.ok(ms !== undefined, `connection ${4 + i} over a cap of 3 was kept`);
      assert.equal(extra.received(), "", "closed without an answer");
    }
    // The held ones send nothing, so the request timeout closes them and frees their places.
    for (const connection of held) assert.ok((await closedWithin(connection, 5000)) !== undefined, "a held connection was never cut");
    assert.equal(await healthOnce(port), "HTTP/1.1 200 OK");
  });

  test("the settings are checked as their environment variables are", async () => {
    for (const [option, value] of [
      ["requestTimeout", 0],
      ["keepAliveTimeout", 1.5],
      ["maxConnections", -1],
    ] as const) {
      await assert.rejects(buildServer(auth, { [option]: value }), (error: Error) => {
        assert.match(error.message, new RegExp(`^tokenver: ${option} must be an integer from 1 to `));
        return true;
      });
    }
  });
});

// The defaults as `tokenver serve` applies them: an idle keep-alive connection goes after 5 s
// (plus Node's second), and one that never sends a request goes with a 408 after 30 s.
test("tokenver serve with the default settings closes idle connections", async () => {
  const server = await startCliServer({ TOKENVER_DATABASE_URL: "sqlite::memory:", TOKENVER_SECRET: TEST_SECRET });
  try {
    const port = Number(new URL(server.url).port);
    const silent = await open(port);
    const keptAlive = await open(port);
    keptAlive.socket.write("GET /health HTTP/1.1\r\nHost: tokenver\r\n\r\n");
    const idle = await closedWithin(keptAlive, 9000);
    assert.ok(idle !== undefined, "an idle keep-alive connection still open after 9 s (default 5 s)");
    assert.ok(idle >= 4900, `closed after ${idle} ms`);
    assert.match(keptAlive.received(), /^HTTP\/1\.1 200 OK\r\n/);
    const cut = await closedWithin(silent, 35_000 - idle);
    assert.ok(cut !== undefined, "a silent connection still open after 35 s (default request timeout 30 s)");
    assert.ok(cut >= 29_900, `cut after ${cut} ms`);
    assert408(silent.received(), "silent connection, default timeout");
  } finally {
    await server.stop();
  }
});

// The three variables reach the server the way `tokenver serve` reads them.
test("tokenver serve applies TOKENVER_REQUEST_TIMEOUT, TOKENVER_KEEPALIVE_TIMEOUT and TOKENVER_MAX_CONNECTIONS", async () => {
  const server = await startCliServer({
    TOKENVER_DATABASE_URL: "sqlite::memory:",
    TOKENVER_SECRET: TEST_SECRET,
    TOKENVER_REQUEST_TIMEOUT: "1",
    TOKENVER_KEEPALIVE_TIMEOUT: "1",
    TOKENVER_MAX_CONNECTIONS: "2",
  });
  try {
    const port = Number(new URL(server.url).port);
    // startCliServer's fetch() may still hold a pooled connection for a moment: let it go first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const keptAlive = await open(port);
    keptAlive.socket.write("GET /health HTTP/1.1\r\nHost: tokenver\r\n\r\n");
    const silent = await open(port);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = await open(port);
    assert.ok((await closedWithin(extra, 1000)) !== undefined, "a third connection over a cap of 2 was kept");
    assert.ok((await closedWithin(silent, 3000)) !== undefined, "a silent connection still open after 3 s (timeout 1 s)");
    assert408(silent.received(), "silent connection");
    assert.ok((await closedWithin(keptAlive, 3000)) !== undefined, "an idle keep-alive connection still open after 3 s (timeout 1 s)");
    assert.match(keptAlive.received(), /\r\nKeep-Alive: timeout=1\r\n/);
    assert.equal(await healthOnce(port), "HTTP/1.1 200 OK");
  } finally {
    await server.stop();
  }
});
