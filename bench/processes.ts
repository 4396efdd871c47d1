/**
 * The processes of a run: server processes (started, health-checked, stopped), one-shot scripts
 * that print JSON, the forked load generator, and the CPU time each process has used.
 */
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./constants.js";
import type { LoadEngine, LoadResult, LoadSpec } from "./load.js";

/** The engine to use: wrk when it runs here, else autocannon; with the version line of wrk. */
export function detectEngine(wanted?: LoadEngine): { engine: LoadEngine; version: string } {
  if (wanted !== "autocannon") {
    const probe = spawnSync("wrk", ["-v"], { encoding: "utf8" });
    const line = `${probe.stdout ?? ""}${probe.stderr ?? ""}`.split("\n")[0]!.trim();
    if (probe.error === undefined && line.startsWith("wrk")) return { engine: "wrk", version: line.split(" Copyright")[0]! };
    if (wanted === "wrk") throw new Error("--load wrk: wrk is not on PATH (apt-get install wrk)");
  }
  const version = (JSON.parse(readFileSync(join(ROOT, "node_modules/autocannon/package.json"), "utf8")) as { version: string }).version;
  return { engine: "autocannon", version: `autocannon ${version}` };
}

export interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  stderr: string[];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

export function tsxArgs(file: string, ...args: string[]): string[] {
  return ["--import", "tsx", join(ROOT, file), ...args];
}

/** Starts a server process and waits until GET /health answers 200. */
export async function startServer(name: string, args: string[], env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  // TOKENVER_BENCH_CPU_PROF=DIR: each server writes V8 CPU profiles to DIR/<server name>/ when it
  // stops, one per thread (the main thread's is the largest; the other is tsx's loader); open them
  // in Chrome's DevTools. One fixed file name would let the loader thread overwrite the main one.
  const profileDir = process.env.TOKENVER_BENCH_CPU_PROF;
  if (profileDir) args = ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`, ...args];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1", TOKENVER_LOG_LEVEL: "warn", NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { name, url, child, stderr };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  const reason =
    stderr
      .join("")
      .split("\n")
      .find((line) => line.trim().length > 0) ?? "did not become healthy";
  throw new Error(`${name}: ${reason.trim()}`);
}

export async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (server.child.exitCode === null) server.child.kill("SIGKILL");
}

/** Runs a node script to completion and returns its last stdout line, parsed as JSON. */
export function runJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("exit", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolveRun(JSON.parse(last) as T);
      else reject(new Error(`${args.join(" ")} exited ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

/** The load generator: one forked process for the whole run, one measurement per message. */
export class LoadGenerator {
  readonly #child: ChildProcess;
  #pending: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined;

  constructor() {
    this.#child = fork(join(ROOT, "bench/load.ts"), [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (message: { result?: LoadResult; error?: string }) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (message.result !== undefined) pending?.resolve(message.result);
      else pending?.reject(new Error(`load generator: ${message.error}`));
    });
    this.#child.on("exit", (code) => this.#pending?.reject(new Error(`load generator exited ${code}`)));
  }

  measure(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#child.send(spec);
    });
  }

  stop(): void {
    this.#child.kill("SIGTERM");
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU milliseconds (user + system) a process has used so far, from /proc (Linux); undefined
 * elsewhere. CPU per request is the contention-proof figure: on shared cores req/s also measures
 * the neighbours, but the work a request costs the server does not change with them.
 */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export function serversCpuMs(servers: Server[]): number | undefined {
  let total = 0;
  for (const s of servers) {
    const ms = cpuMs(s.child.pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}
