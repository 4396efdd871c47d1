// Unit tests for src/core/webhooks/send.ts over TLS: a real HTTPS receiver in this process
// (node:https) with a self-signed certificate made at test time by `openssl req -x509` in a temp
// dir. A receiver whose certificate is not trusted, or names another host, never gets the body;
// a trusted one gets it; and over TLS the connect timeout ends when the handshake completes, not
// when TCP connects (send.ts:51, "secureConnect"): a slow answer within the total timeout counts.
//
// How the certificate is trusted: sendWebhook takes no CA (it trusts what the process trusts, as
// an operator with a private CA would set with NODE_EXTRA_CA_CERTS, read once at start-up). It asks
// for `agent: false`, which Node answers with `new https.globalAgent.constructor()`; `trusting`
// puts an agent there whose class adds the CA, for the length of one call, then puts Node's back.
// In-process, so Stryker's per-test coverage (one process per file) sees the line it mutates.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sendWebhook } from "../../../../src/core/webhooks/send.js";

/** A self-signed certificate (P-256, one day) for `altName`, e.g. "IP:127.0.0.1"; the temp dir is gone on return. */
function selfSigned(altName: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=tokenver test receiver",
        "-addext",
        `subjectAltName=${altName}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with `ca` trusted by every https request this process makes, including `agent: false` ones. */
async function trusting<T>(ca: string, fn: () => Promise<T>): Promise<T> {
  const node = https.globalAgent;
  class TrustingAgent extends https.Agent {
    constructor(options?: https.AgentOptions) {
      super({ ...options, ca });
    }
  }
  https.globalAgent = new TrustingAgent();
  try {
    return await fn();
  } finally {
    https.globalAgent.destroy();
    https.globalAgent = node;
  }
}

/** An HTTPS receiver on 127.0.0.1 that records every request's path and body and answers as `answer` says. */
async function receiver(tls: { key: string; cert: string }) {
  const seen: Array<{ url: string; body: string }> = [];
  const state = { answer: (response: import("node:http").ServerResponse) => void response.writeHead(204).end() };
  const server = https.createServer(tls, (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      seen.push({ url: request.url ?? "", body: Buffer.concat(chunks).toString("utf8") });
      state.answer(response);
    });
  });
  // A client that refuses the certificate aborts the handshake: the server's side of that is no failure of the test.
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    seen,
    state,
    url: (path = "/hook") => `https://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const BODY = JSON.stringify({ type: "logout", data: { note: "é ✓" } });
const HEADERS = { "content-type": "application/json", "webhook-id": "evt_tls", "webhook-signature": "v1,abc=" };

describe("sendWebhook over TLS", () => {
  let own: { key: string; cert: string };
  let r: Awaited<ReturnType<typeof receiver>>;
  before(async () => {
    own = selfSigned("IP:127.0.0.1");
    r = await receiver(own);
  });
  after(async () => {
    await r.stop();
  });

  test("a receiver whose certificate is not trusted gets nothing: the attempt fails with the TLS code only", async () => {
    const before = r.seen.length;
    assert.deepEqual(await sendWebhook(r.url(), HEADERS, BODY, undefined, { connectMs: 5_000, totalMs: 5_000 }), {
      error: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    assert.equal(r.seen.length, before, "the signed body never went to a receiver it could not authenticate");
  });

  test("a trusted certificate for another address is refused too: the receiver's name is checked, not only its CA", async () => {
    const other = selfSigned("IP:127.0.0.2");
    const impostor = await receiver(other);
    try {
      assert.deepEqual(
        await trusting(other.cert, () => sendWebhook(impostor.url(), HEADERS, BODY, undefined, { connectMs: 5_000, totalMs: 5_000 })),
        { error: "ERR_TLS_CERT_ALTNAME_INVALID" },
      );
      assert.equal(impostor.seen.length, 0);
    } finally {
      await impostor.stop();
    }
  });

  test("a trusted receiver gets the POST over TLS, byte for byte, and its status comes back", async () => {
    const before = r.seen.length;
    r.state.answer = (response) => void response.writeHead(202).end();
    assert.deepEqual(await trusting(own.cert, () => sendWebhook(r.url("/tls?x=1"), HEADERS, BODY)), { status: 202 });
    assert.deepEqual(r.seen.slice(before), [{ url: "/tls?x=1", body: BODY }]);
  });

  test("the connect timeout ends when the TLS handshake completes: a slow answer within the total timeout counts", async () => {
    const connectMs = 400;
    const before = r.seen.length;
    // Answered well after the connect timeout would have fired, had it still been running.
    r.state.answer = (response) => void setTimeout(() => response.writeHead(200).end("ok"), 2 * connectMs);
    const started = Date.now();
    const result = await trusting(own.cert, () => sendWebhook(r.url(), HEADERS, BODY, undefined, { connectMs, totalMs: 10_000 }));
    const elapsed = Date.now() - started;
    assert.deepEqual(result, { status: 200 });
    assert.equal(r.seen.length, before + 1, "the body went over the completed handshake");
    assert.ok(elapsed >= 2 * connectMs, `the answer came after the connect timeout (${elapsed} ms)`);
  });
});
