import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Api } from "./server.js";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface Node {
  url: string;
  api: Api;
  process: ChildProcess;
  /** Everything the process wrote, for assertions on logs. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A real `tokenver serve` process on a loopback port the OS picks (PORT=0, read from its log). */
export async function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], {
    cwd: ROOT,
    // Suites register and log in many users from one address: those throttles are off unless set.
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      TOKENVER_LOG_LEVEL: "info",
      TOKENVER_RATE_LIMIT_REGISTER: "1000000",
      TOKENVER_RATE_LIMIT_ADDRESS_LOGINS: "1000000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`node exited with ${code}: ${output}`)));
    // Generous: each process compiles the sources with tsx, and a shared CI machine can be slow.
    setTimeout(() => reject(new Error(`node did not start: ${output}`)), 90_000).unref();
  });
  return {
    url,
    api: new Api(url),
    process: child,
    output: () => output,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, "exit");
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

export interface RedisServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  remove(): Promise<void>;
}

/** A Redis server of the test's own, on its own port, that the test may stop and restart. */
export async function startRedis(options: { appendOnly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "tokenver-redis-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        options.appendOnly ? "yes" : "no",
        "--appendfsync",
        "always",
        "--dir",
        dir,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on("data", (c: Buffer) => {
        log += c.toString();
        if (log.includes("Ready to accept connections")) resolve();
      });
      child!.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)));
      setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000).unref();
    });
  };
  const stop = async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    freeze: async () => {
      child?.kill("SIGSTOP");
    },
    thaw: async () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGCONT");
    },
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of a service: `cut()` drops every connection and refuses new ones, as if the
 * service had gone away; `restore()` lets connections through again. `freeze()` is a silent
 * partition: connections stay open but nothing crosses (new ones included) until `thaw()`, which
 * delivers what was held back, late.
 */
export async function startProxy(targetPort: number, targetHost = "127.0.0.1") {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let open = true;
  let frozen = false;
  const forward = (from: Socket, to: Socket) =>
    from.on("data", (chunk: Buffer) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const deliver of held.splice(0)) deliver();
    },
    async close() {
      this.cut();
      server.close();
    },
  };
}

/**
 * A TCP proxy in front of Redis that tells subscriber connections (they send SUBSCRIBE) from the
 * others, so a test can break only those: `silenceSubscribers()` (nothing crosses, nothing closes,
 * as when the far side vanished without a FIN), `dropSubscribers()` (closed: the client reconnects),
 * `delayNextSubscribe(ms)`.
 */
export async function startRedisProxy(targetPort: number, targetHost = "127.0.0.1") {
  type Pair = { client: Socket; upstream: Socket; subscriber: boolean; silent: boolean };
  const pairs = new Set<Pair>();
  let subscribeDelay = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, subscriber: false, silent: false };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.on("data", (chunk: Buffer) => {
      const subscribes = /subscribe/i.test(chunk.toString("latin1"));
      if (subscribes) pair.subscriber = true;
      if (pair.silent) return;
      if (subscribes && subscribeDelay > 0) {
        setTimeout(() => upstream.write(chunk), subscribeDelay);
        subscribeDelay = 0;
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!pair.silent) client.write(chunk);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    silenceSubscribers() {
      for (const p of pairs) if (p.subscriber) p.silent = true;
    },
    dropSubscribers() {
      for (const p of [...pairs]) if (p.subscriber) p.client.destroy();
    },
    delayNextSubscribe(ms: number) {
      subscribeDelay = ms;
    },
    close() {
      for (const p of pairs) p.client.destroy();
      server.close();
    },
  };
}
