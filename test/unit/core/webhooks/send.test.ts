// Unit tests for src/core/webhooks/send.ts: one POST to a real local HTTP server (node:http), never a
// mock. The body goes byte for byte with the attempt's headers; the status comes back as it is, a
// redirect is never followed; the two timeouts (connect, total) and the shutdown signal end it
// with a short code, never a message; and an attempt leaves nothing behind (no timer keeping the
// process up, no listener on the dispatcher's long-lived signal).
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import http from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { sendWebhook } from "../../../../src/core/webhooks/send.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Answer = (response: http.ServerResponse, request: http.IncomingMessage) => void;

/** A local HTTP receiver that records every request and answers as `answer` says. */
class Receiver {
  readonly seen: Seen[] = [];
  answer: Answer = (response) => response.writeHead(204).end();
  readonly #server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      this.seen.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks) });
      this.answer(response, request);
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return this;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A TCP listener that accepts and never says a word: a TLS handshake towards it never completes. */
async function silentListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket.on("error", () => {})));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The ref'd timers of the process (an unref'd one, or a cleared one, is not listed). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const BODY = JSON.stringify({ type: "logout", data: { note: "é ✓ — multi-byte" } });
const HEADERS = {
  "content-type": "application/json",
  "webhook-id": "evt_1",
  "webhook-timestamp": "1764570600",
  "webhook-signature": "v1,abc=",
};
// Short enough that a mutant which never ends a response fails in seconds; long enough for six 256 KiB
// answers under Stryker's instrumentation on loaded cores (400 ms failed a dry run at load 11).
const SHORT = { connectMs: 5_000, totalMs: 3_000 };

describe("sendWebhook", () => {
  let r: Receiver;
  before(async () => {
    r = await new Receiver().start();
  });
  after(async () => {
    await r.stop();
  });

  test("POSTs the body byte for byte with the attempt's headers, its byte length and tokenver's user agent", async () => {
    r.answer = (response) => response.writeHead(204).end();
    const before = r.seen.length;
    assert.deepEqual(await sendWebhook(r.url("/hook?x=1"), HEADERS, BODY), { status: 204 });
    assert.equal(r.seen.length, before + 1);
    const seen = r.seen.at(-1)!;
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/hook?x=1");
    assert.equal(seen.body.toString("utf8"), BODY);
    assert.equal(seen.headers["content-length"], String(Buffer.byteLength(BODY)));
    assert.notEqual(Buffer.byteLength(BODY), BODY.length, "the body has multi-byte characters: bytes, not characters, are counted");
    assert.equal(seen.headers["transfer-encoding"], undefined);
    assert.equal(seen.headers["user-agent"], "tokenver-webhooks");
    for (const [name, value] of Object.entries(HEADERS)) assert.equal(seen.headers[name], value, name);
  });

  test("each status comes back as it is, with the response body read and thrown away", async () => {
    const big = "x".repeat(256 * 1024);
    for (const status of [200, 299, 400, 410, 500, 503]) {
      r.answer = (response) => response.writeHead(status, { "content-type": "text/plain" }).end(big);
      assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, SHORT), { status }, String(status));
    }
  });

  test("a redirect is a failure like any other: its status comes back and the Location is never followed", async () => {
    const before = r.seen.length;
    r.answer = (response, request) =>
      request.url === "/hook" ? response.writeHead(302, { location: r.url("/elsewhere") }).end() : response.writeHead(204).end();
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, SHORT), { status: 302 });
    assert.deepEqual(
      r.seen.slice(before).map((s) => s.url),
      ["/hook"],
    );
  });

  test("a response cut off after its status line still reports that status", async () => {
    r.answer = (response) => {
      response.writeHead(200, { "content-length": "1000" });
      response.write("only a part", () => response.socket?.destroy());
    };
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, SHORT), { status: 200 });
  });

  test("once connected, the connect timeout no longer applies: a slow answer within the total timeout counts", async () => {
    r.answer = (response) => void setTimeout(() => response.writeHead(200).end("ok"), 300);
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, { connectMs: 100, totalMs: 5_000 }), { status: 200 });
  });

  test("a receiver that never answers is given up at the total timeout, with the code only", async () => {
    r.answer = () => {};
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, { connectMs: 5_000, totalMs: 300 }), { error: "timeout" });
  });

  test("a refused connection is its error code, not the error's message (which names the address)", async () => {
    const closed = await silentListener();
    const port = closed.port;
    await closed.close();
    assert.deepEqual(await sendWebhook(`http://127.0.0.1:${port}/x`, HEADERS, BODY), { error: "ECONNREFUSED" });
  });

  test("an https URL goes over TLS: the connect timeout runs until the TLS handshake completes", async () => {
    const silent = await silentListener();
    try {
      // TCP connects at once, the handshake never ends: that is still connecting.
      assert.deepEqual(
        await sendWebhook(`https://127.0.0.1:${silent.port}/x`, HEADERS, BODY, undefined, { connectMs: 200, totalMs: 5_000 }),
        {
          error: "connect timeout",
        },
      );
    } finally {
      await silent.close();
    }
    const closed = await silentListener();
    await closed.close();
    // Never a throw (an http client would refuse the https: scheme): the TLS client's own refusal.
    assert.deepEqual(await sendWebhook(`https://127.0.0.1:${closed.port}/x`, HEADERS, BODY), { error: "ECONNREFUSED" });
  });

  test("an already aborted signal (shutdown) sends nothing", async () => {
    r.answer = (response) => response.writeHead(204).end();
    const before = r.seen.length;
    const controller = new AbortController();
    controller.abort();
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, controller.signal), { error: "aborted" });
    // A request that is sent after it arrives after the aborted one would have.
    assert.deepEqual(await sendWebhook(r.url("/after"), HEADERS, BODY), { status: 204 });
    assert.deepEqual(
      r.seen.slice(before).map((s) => s.url),
      ["/after"],
    );
  });

  test("an abort during the attempt ends it at once as aborted", async () => {
    const before = r.seen.length;
    r.answer = () => {};
    const controller = new AbortController();
    const sending = sendWebhook(r.url(), HEADERS, BODY, controller.signal, { connectMs: 5_000, totalMs: 20_000 });
    while (r.seen.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    assert.deepEqual(await sending, { error: "aborted" });
  });

  test("every ending leaves no timer running and no listener on the shutdown signal", async () => {
    const signal = new AbortController().signal;
    const baseline = timers();
    r.answer = (response) => response.writeHead(204).end();
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, signal), { status: 204 });
    assert.equal(getEventListeners(signal, "abort").length, 0, "after a status");
    assert.equal(timers(), baseline, "after a status");

    const closed = await silentListener();
    await closed.close();
    assert.deepEqual(await sendWebhook(`http://127.0.0.1:${closed.port}/x`, HEADERS, BODY, signal), { error: "ECONNREFUSED" });
    assert.equal(getEventListeners(signal, "abort").length, 0, "after an error");
    assert.equal(timers(), baseline, "after an error");

    r.answer = () => {};
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, signal, { connectMs: 5_000, totalMs: 200 }), { error: "timeout" });
    assert.equal(getEventListeners(signal, "abort").length, 0, "after the total timeout");
    assert.equal(timers(), baseline, "after the total timeout");
  });
});
