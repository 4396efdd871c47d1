import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { keepAliveLoad } from "./support/load.js";
import { startNode, type Node } from "./support/nodes.js";
import { TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/** A POST /login whose headers and half its body are sent now; `finish()` sends the rest. */
async function slowLogin(url: string, email: string) {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ email, password: PASSWORD });
  const socket = connect(Number(port), hostname);
  await once(socket, "connect");
  let response = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (response += chunk));
  socket.on("error", () => {});
  const closed = once(socket, "close");
  socket.write(
    `POST /login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body.slice(0, 10),
  );
  return {
    finish: () => socket.write(body.slice(10)),
    /** Everything the server sent back, once it closed the connection. */
    answer: async () => {
      await closed;
      return response;
    },
  };
}

/** Resolves with the error code of a new connection to the server (ECONNREFUSED when it no longer listens). */
async function connectOutcome(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  return new Promise((resolve) => {
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

function exitOf(node: Node): Promise<number | null> {
  return new Promise((resolve) => {
    if (node.process.exitCode !== null) resolve(node.process.exitCode);
    else node.process.once("exit", (code) => resolve(code));
  });
}

describe("graceful shutdown of a server process (docs/api.md section 10)", () => {
  const nodes: Node[] = [];
  after(() => Promise.all(nodes.map((n) => n.stop("SIGKILL"))));

  test("SIGTERM under keep-alive load: every request sent before it is answered, new connections are refused, exit 0", async () => {
    const node = await startNode({
      TOKENVER_DATABASE_URL: "sqlite::memory:",
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_SHUTDOWN_TIMEOUT: "10",
    });
    nodes.push(node);
    const { email, access } = await node.api.register(undefined, PASSWORD);
    const load = keepAliveLoad(node.url, "/profile", { authorization: `Bearer ${access}` }, 10);
    await sleep(1500);
    // In flight across the signal: its body arrives only once the server is draining.
    const slow = await slowLogin(node.url, email);
    await sleep(100);

    const exited = exitOf(node);
    const signalledAt = performance.now();
    load.signal();
    node.process.kill("SIGTERM");
    await sleep(300);
    assert.equal(await connectOutcome(node.url), "ECONNREFUSED", "a new connection was accepted while draining");
    slow.finish();
    const code = await exited;
    const took = performance.now() - signalledAt;
    await load.stop();

    assert.match(await slow.answer(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close/i, "the request in flight was not answered");
    assert.equal(code, 0, node.output());
    assert.ok(took < 10_000, `exit took ${took} ms`);
    const before = load.outcomes.filter((o) => o.sentBeforeSignal);
    assert.ok(before.length > 20, `only ${before.length} requests ran before the signal`);
    const unanswered = before.filter((o) => o.status !== 200);
    assert.deepEqual(unanswered, [], "requests sent before the signal were not answered");
    // After the signal: answered, refused, or (sent on a kept-alive connection as the server closed
    // it as idle) reset, which RFC 9110 9.2.2 lets a client retry. Nothing else.
    for (const o of load.outcomes.filter((o) => !o.sentBeforeSignal)) {
      const retryable = o.error === "ECONNREFUSED" || (o.reusedSocket && (o.error === "ECONNRESET" || o.error === "EPIPE"));
      assert.ok(o.status === 200 || retryable, `after the signal: ${JSON.stringify(o)}`);
    }
    assert.match(node.output(), /"exitCode":0/);
  });

  test("a request still in flight when the timeout runs out is cut off: exit 1", async () => {
    const node = await startNode({
      TOKENVER_DATABASE_URL: "sqlite::memory:",
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_SHUTDOWN_TIMEOUT: "1",
    });
    nodes.push(node);
    const { email } = await node.api.register(undefined, PASSWORD);
    const slow = await slowLogin(node.url, email);
    await sleep(100);
    const exited = exitOf(node);
    const signalledAt = performance.now();
    node.process.kill("SIGINT");
    const code = await exited;
    const took = performance.now() - signalledAt;
    assert.equal(code, 1, node.output());
    assert.ok(took >= 900 && took < 6000, `exit took ${took} ms`);
    assert.equal(await slow.answer(), "", "the cut-off request got an answer");
    assert.match(node.output(), /"cutOff":1/);
  });
});
