import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { cleanEnv, freePort } from "../../test/support/process.js";
import { Proxy } from "./proxy.js";

/**
 * What the campaign runs against, all on loopback and all its own: a PostgreSQL database created
 * for the run (dropped at the end), a redis-server on a free port (so it can be killed and
 * restarted), and N tokenver processes, each reaching PostgreSQL and Redis through proxies of its
 * own (so one node's paths can be cut, frozen, or have their subscriber dropped).
 *
 * (The Redis here is started like test/support/nodes.ts's `startRedis`, not imported from it: that
 * module loads src/ into this process, and the process that judges the servers must not run the
 * code under test.)
 */

export interface ClusterOptions {
  nodes: number;
  /** `TOKENVER_REDIS_NODE_LEASE`, seconds. */
  lease: number;
  /** `TOKENVER_REDIS_ENTRY_TTL`, seconds. */
  entryTtl: number;
  /** The command that starts a server, before `serve`: e.g. [node, "dist/cli.js"]. */
  command: string[];
  /** The working directory of the servers. */
  cwd: string;
  /** Logs go here: node-<i>.log, redis.log. */
  dir: string;
  adminUrl: string;
  /**
   * A self-test of the campaign, never a real run: "prefix" gives the last node a Redis key prefix
   * of its own, against the operating rules (docs/scale-out.md), so it never hears of the others'
   * revocations and answers from a stale cache. The checker must then report violations.
   */
  sabotage?: "prefix";
  /** `TOKENVER_SMTP_URL` of every node and command (the campaign's own SMTP server). */
  smtpUrl?: string;
  /** Each node serves `/metrics` on a port of its own (`metricsPort`): the soak run reads the heap there. */
  metrics?: boolean;
  log(message: string): void;
}

const GUARD = fileURLToPath(new URL("./guard.mjs", import.meta.url));

/**
 * A process started through guard.mjs, which kills it when this process goes away, however it
 * goes (SIGKILL included): a campaign that dies leaves no server or Redis behind. Signals go to
 * the process itself (its pid is the guard's first line), not to the guard.
 */
export class Guarded {
  #ended = false;
  readonly exited: Promise<{ code: number | null }>;

  private constructor(
    readonly guard: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (guard.exitCode !== null || guard.signalCode !== null) {
        this.#ended = true;
        resolve({ code: guard.exitCode });
      } else
        guard.once("exit", (code) => {
          this.#ended = true;
          resolve({ code });
        });
    });
  }

  static start(
    command: string,
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv; output(chunk: Buffer): void },
  ): Promise<Guarded> {
    const guard = spawn(process.execPath, [GUARD, command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    guard.stdin!.on("error", () => {});
    guard.stderr!.on("data", options.output);
    return new Promise((resolve, reject) => {
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const newline = head.indexOf("\n");
        if (newline === -1) return;
        guard.stdout!.off("data", onData);
        guard.stdout!.on("data", options.output);
        const match = /^guard:pid (\d+)$/.exec(head.slice(0, newline));
        if (match === null) return reject(new Error(`guard: ${head}`));
        const rest = head.slice(newline + 1);
        if (rest.length > 0) options.output(Buffer.from(rest, "latin1"));
        resolve(new Guarded(guard, Number(match[1])));
      };
      guard.stdout!.on("data", onData);
      guard.once("exit", (code) => reject(new Error(`guard exited with ${code} before starting ${command}: ${head}`)));
    });
  }

  get running(): boolean {
    return !this.#ended;
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#ended)
      try {
        process.kill(this.pid, signal);
      } catch {
        // Gone already.
      }
  }
}

interface NodeState {
  index: number;
  port: number;
  metricsPort?: number;
  child?: Guarded;
  paused: boolean;
  out: WriteStream;
  starts: number;
}

export class RedisProcess {
  #child?: Guarded;
  #paused = false;
  constructor(
    readonly port: number,
    readonly dir: string,
    readonly out: WriteStream,
  ) {}

  get running(): boolean {
    return this.#child !== undefined && this.#child.running;
  }

  get pid(): number | undefined {
    return this.running ? this.#child!.pid : undefined;
  }

  async start(): Promise<void> {
    let log = "";
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const child = await Guarded.start(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
        "--maxmemory-policy",
        "noeviction",
      ],
      {
        output: (c) => {
          this.out.write(c);
          log += c.toString();
          if (log.includes("Ready to accept connections")) ready();
        },
      },
    );
    this.#child = child;
    this.#paused = false;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      isReady.then(() => "ready"),
      child.exited.then(({ code }) => `exited with ${code}`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve("did not start within 15 s"), 15_000))),
    ]);
    clearTimeout(timer);
    if (outcome !== "ready") {
      child.kill("SIGKILL");
      throw new Error(`redis-server ${outcome}: ${log}`);
    }
  }

  /** SIGKILL: everything in it is lost (no persistence). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill("SIGKILL");
    await child.exited;
  }

  pause(): void {
    if (this.running) {
      this.#child!.kill("SIGSTOP");
      this.#paused = true;
    }
  }

  resume(): void {
    if (this.running && this.#paused) this.#child!.kill("SIGCONT");
    this.#paused = false;
  }
}

export class Cluster {
  readonly nodes: NodeState[] = [];
  readonly pgProxies: Proxy[] = [];
  readonly redisProxies: Proxy[] = [];
  readonly prefix = `tokenver-campaign:${process.pid}:${randomBytes(4).toString("hex")}:`;
  readonly database = `tokenver_campaign_${process.pid}_${randomBytes(4).toString("hex")}`;
  readonly secret = randomBytes(48).toString("base64");
  redis!: RedisProcess;
  #databaseCreated = false;
  #stopping = false;

  private constructor(readonly options: ClusterOptions) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      await cluster.#start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async #start(): Promise<void> {
    const { options } = this;
    mkdirSync(options.dir, { recursive: true });
    const admin = new pg.Client({ connectionString: options.adminUrl });
    await admin.connect();
    try {
      await dropStaleDatabases(admin, options.log);
      await admin.query(`CREATE DATABASE ${this.database}`);
      this.#databaseCreated = true;
    } finally {
      await admin.end();
    }
    const redisDir = join(options.dir, "redis");
    mkdirSync(redisDir, { recursive: true });
    this.redis = new RedisProcess(await freePort(), redisDir, createWriteStream(join(options.dir, "redis.log"), { flags: "a" }));
    await this.redis.start();
    const pgUrl = new URL(options.adminUrl);
    for (let i = 0; i < options.nodes; i++) {
      this.pgProxies.push(await Proxy.start(Number(pgUrl.port || 5432), pgUrl.hostname));
      this.redisProxies.push(await Proxy.start(this.redis.port));
      this.nodes.push({
        index: i,
        port: await freePort(),
        ...(options.metrics ? { metricsPort: await freePort() } : {}),
        paused: false,
        out: createWriteStream(join(options.dir, `node-${i}.log`), { flags: "a" }),
        starts: 0,
      });
    }
    // The first node migrates alone; the others then start together.
    if (!(await this.startNode(0))) throw new Error(`node 0 did not start; see ${join(options.dir, "node-0.log")}`);
    const rest = await Promise.all(this.nodes.slice(1).map((n) => this.startNode(n.index)));
    if (rest.some((ok) => !ok)) throw new Error(`a node did not start; see ${options.dir}`);
  }

  url(node: number): string {
    return `http://127.0.0.1:${this.nodes[node]!.port}`;
  }

  #env(node: number): NodeJS.ProcessEnv {
    const pgUrl = new URL(this.options.adminUrl);
    pgUrl.hostname = "127.0.0.1";
    pgUrl.port = String(this.pgProxies[node]!.port);
    pgUrl.pathname = `/${this.database}`;
    return cleanEnv({
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(this.nodes[node]!.port),
      TOKENVER_DATABASE_URL: pgUrl.toString(),
      TOKENVER_REDIS_URL: `redis://127.0.0.1:${this.redisProxies[node]!.port}`,
      TOKENVER_REDIS_PREFIX:
        this.options.sabotage === "prefix" && node === this.options.nodes - 1 ? `${this.prefix}sabotage:` : this.prefix,
      TOKENVER_SECRET: this.secret,
      TOKENVER_REDIS_ENTRY_TTL: String(this.options.entryTtl),
      TOKENVER_REDIS_NODE_LEASE: String(this.options.lease),
      TOKENVER_LOG_LEVEL: "warn",
      TOKENVER_PRUNE_INTERVAL: "0",
      // The checker holds a refresh token to one success (reuse detection as in section 3): the
      // refresh grace of docs/api.md section 6 would make a racing second success legitimate.
      TOKENVER_REFRESH_GRACE: "0",
      // One client address makes every request: throttling would only get in the way.
      TOKENVER_RATE_LIMIT_ACCOUNT: "1000000",
      TOKENVER_RATE_LIMIT_ADDRESS: "1000000",
      TOKENVER_RATE_LIMIT_REGISTER: "1000000",
      TOKENVER_RATE_LIMIT_ADDRESS_LOGINS: "1000000",
      ...(this.options.smtpUrl === undefined ? {} : { TOKENVER_SMTP_URL: this.options.smtpUrl }),
      ...(this.nodes[node]!.metricsPort === undefined ? {} : { TOKENVER_METRICS_PORT: String(this.nodes[node]!.metricsPort) }),
    });
  }

  /**
   * Runs a `tokenver` command (`users create`, `keys revoke`) against the cluster's database and
   * Redis directly (not through a node's proxies), as an operator would; killed after `timeoutMs`.
   */
  async command(args: string[], input = "", timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
    const env = this.#env(0);
    const pgUrl = new URL(this.options.adminUrl);
    pgUrl.pathname = `/${this.database}`;
    env.TOKENVER_DATABASE_URL = pgUrl.toString();
    env.TOKENVER_REDIS_URL = `redis://127.0.0.1:${this.redis.port}`;
    delete env.TOKENVER_METRICS_PORT;
    const [command, ...rest] = this.options.command;
    const child = spawn(command!, [...rest, ...args], { cwd: this.options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const code = await new Promise<number | null>((resolve) => {
      child.once("error", () => resolve(null));
      child.once("exit", (c) => resolve(c));
    });
    clearTimeout(timer);
    return { code, output: output.trim().slice(0, 500) };
  }

  /** The server process's pid (not its guard's), while it runs. */
  pid(node: number): number | undefined {
    return this.alive(node) ? this.nodes[node]!.child!.pid : undefined;
  }

  alive(node: number): boolean {
    const child = this.nodes[node]!.child;
    return child !== undefined && child.running;
  }

  paused(node: number): boolean {
    return this.nodes[node]!.paused;
  }

  /** Starts the node if it is not running and waits (up to `timeoutMs`) until /health answers 200. */
  async startNode(node: number, timeoutMs = 60_000): Promise<boolean> {
    const state = this.nodes[node]!;
    const deadline = performance.now() + timeoutMs;
    while (!this.#stopping && performance.now() < deadline) {
      if (!this.alive(node)) {
        const [command, ...args] = this.options.command;
        state.out.write(`\n--- campaign: start #${++state.starts} at ${new Date().toISOString()}\n`);
        const child = await Guarded.start(command!, [...args, "serve"], {
          cwd: this.options.cwd,
          env: this.#env(node),
          output: (c) => state.out.write(c),
        });
        state.child = child;
        state.paused = false;
      }
      if (await this.healthy(node)) return true;
      await sleep(250);
    }
    return this.alive(node) && (await this.healthy(node));
  }

  async healthy(node: number): Promise<boolean> {
    try {
      const response = await fetch(`${this.url(node)}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** kill -9: no shutdown hook, no deregistration. */
  async killNode(node: number): Promise<void> {
    const child = this.nodes[node]!.child;
    if (child === undefined || !this.alive(node)) return;
    child.kill("SIGKILL");
    await child.exited;
    this.nodes[node]!.paused = false;
  }

  pauseNode(node: number): void {
    if (this.alive(node)) {
      this.nodes[node]!.child!.kill("SIGSTOP");
      this.nodes[node]!.paused = true;
    }
  }

  resumeNode(node: number): void {
    if (this.alive(node) && this.nodes[node]!.paused) this.nodes[node]!.child!.kill("SIGCONT");
    this.nodes[node]!.paused = false;
  }

  /** Undoes every fault: proxies open and thawed, Redis and every node running and not paused. */
  async heal(): Promise<boolean> {
    for (const p of [...this.pgProxies, ...this.redisProxies]) {
      p.thaw();
      p.restore();
    }
    this.redis.resume();
    if (!this.redis.running) await this.redis.start();
    for (const n of this.nodes) this.resumeNode(n.index);
    const up = await Promise.all(this.nodes.map((n) => this.startNode(n.index)));
    return up.every(Boolean);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.nodes.map(async (n) => {
        this.resumeNode(n.index);
        const child = n.child;
        if (child === undefined || !this.alive(n.index)) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await child.exited;
        clearTimeout(timer);
      }),
    );
    for (const p of [...this.pgProxies, ...this.redisProxies]) await p.close();
    if (this.redis !== undefined) {
      this.redis.resume();
      await this.redis.kill();
    }
    if (this.#databaseCreated) {
      const admin = new pg.Client({ connectionString: this.options.adminUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    }
    for (const n of this.nodes) n.out.end();
    this.redis?.out.end();
  }
}

/**
 * Drops the databases of earlier campaigns whose process is gone (a campaign killed before its
 * cleanup): only names this file makes, `tokenver_campaign_<pid>_<hex>`, and only for a pid that no
 * longer runs.
 */
async function dropStaleDatabases(admin: pg.Client, log: (message: string) => void): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'tokenver\\_campaign\\_%'");
  for (const { datname } of rows) {
    const match = /^tokenver_campaign_(\d+)_[0-9a-f]{8}$/.exec(datname);
    if (match === null || Number(match[1]) === process.pid || processRuns(Number(match[1]))) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    log(`dropped ${datname}, left behind by a campaign that is gone`);
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
