/**
 * The write paths' throughput: registrations, logins or refreshes per second against one server,
 * closed loop (each of N workers sends its next request when the last one answered), for some
 * seconds. Prints one JSON line: operations that succeeded, per second, latency p50/p99 (ms), and
 * the statuses of the others.
 *
 * Usage: node --import tsx bench/flows.ts <base url> <register|login|refresh> <seconds> <workers> <emails.json> <password>
 * Logins use the seeded accounts (emails.json); refreshes first log `workers` of them in (not
 * counted), then each worker rotates its own refresh token.
 */
import { readFileSync } from "node:fs";

const [base, kind, secondsArg = "5", workersArg = "4", emailsFile, password] = process.argv.slice(2);
if (!base || !kind || !emailsFile || !password)
  throw new Error("usage: flows.ts <base> <kind> <seconds> <workers> <emails.json> <password>");
const emails = JSON.parse(readFileSync(emailsFile, "utf8")) as string[];
const workers = Number(workersArg);
const statuses: Record<string, number> = {};
const latencies: number[] = [];

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

let registered = 0;
const run = `${process.pid}-${Date.now().toString(36)}`;
const refreshTokens: string[] = [];
if (kind === "refresh") {
  for (let i = 0; i < workers; i++) {
    const answer = await post("/login", { email: emails[i % emails.length], password });
    if (answer.status !== 200) throw new Error(`refresh set-up: login answered ${answer.status}`);
    refreshTokens.push(answer.body!.refresh as string);
  }
}

/** One operation; its status when it did not succeed, undefined when it did. */
async function one(worker: number): Promise<number | undefined> {
  if (kind === "register") {
    const { status } = await post("/register", { email: `flow-${run}-${registered++}@example.com`, password });
    return status === 201 ? undefined : status;
  }
  if (kind === "login") {
    const { status } = await post("/login", { email: emails[Math.floor(Math.random() * emails.length)], password });
    return status === 200 ? undefined : status;
  }
  const answer = await post("/token/refresh", { refresh: refreshTokens[worker] });
  if (answer.status !== 200) return answer.status;
  refreshTokens[worker] = answer.body!.refresh as string;
  return undefined;
}

const started = performance.now();
const deadline = started + Number(secondsArg) * 1000;
await Promise.all(
  Array.from({ length: workers }, async (_, worker) => {
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        const failed = await one(worker);
        if (failed === undefined) latencies.push(performance.now() - t);
        else statuses[failed] = (statuses[failed] ?? 0) + 1;
      } catch {
        statuses.network = (statuses.network ?? 0) + 1;
      }
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1));
process.stdout.write(
  `${JSON.stringify({ kind, ok: latencies.length, seconds, rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99), others: statuses })}\n`,
);
