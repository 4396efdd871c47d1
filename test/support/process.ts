import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: the CLI runs from source with tsx, as `npm start` would from dist. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
// Generous: a loaded machine (CI beside other work) can take tens of seconds to start tsx and a server.
const STARTUP_TIMEOUT_MS = 60_000;

/**
 * A free loopback port. The CLI cannot report a port it chose itself, so we pick one: bind port 0,
 * read it, release it. (Another process could take it in between; on a test machine it does not.)
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The parent's environment without any TOKENVER_ setting, so a test states every setting itself. */
export function cleanEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith("TOKENVER_") && key !== "PORT" && key !== "HOST") env[key] = value;
  return { ...env, NODE_ENV: "test", ...settings };
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tokenver <args>` from source with exactly the given settings (and `input` on standard input, if given). */
export function spawnCli(args: string[], settings: Record<string, string>, input?: string): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(settings),
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) child.stdin!.end(input);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs a CLI command that is expected to end by itself; kills it if it does not in time. */
export async function runCli(
  args: string[],
  settings: Record<string, string>,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, settings, input);
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), STARTUP_TIMEOUT_MS);
  const { code } = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

export interface RunningServer extends CliProcess {
  url: string;
  /** SIGKILL: no shutdown hook runs, nothing is flushed (a crash). */
  kill9(): Promise<void>;
  /** SIGTERM and wait: the graceful path. */
  stop(): Promise<void>;
}

/** `tokenver serve` on a free port; resolves once GET /health answers 200. */
export async function startCliServer(settings: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cli = spawnCli(["serve"], { HOST: "127.0.0.1", PORT: String(port), TOKENVER_LOG_LEVEL: "info", ...settings });
  let ended = false;
  void cli.exited.then(() => (ended = true));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (ended) throw new Error(`tokenver serve exited during start-up: ${cli.stderr()}`);
    if (Date.now() > deadline) {
      cli.child.kill("SIGKILL");
      throw new Error(`tokenver serve did not answer within ${STARTUP_TIMEOUT_MS} ms: ${cli.stderr()}`);
    }
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const killWith = async (signal: NodeJS.Signals) => {
    if (!ended) cli.child.kill(signal);
    await cli.exited;
  };
  return { ...cli, url, kill9: () => killWith("SIGKILL"), stop: () => killWith("SIGTERM") };
}
