/**
 * The login storm: its own process, logging seeded users in at a fixed rate (default 50/s) for a
 * while, so argon2 runs on the server's thread pool beside the protected-route load. Prints one
 * JSON line: logins attempted, succeeded, the statuses of the others, and how long the successes
 * took (p50/p99/max ms), so a storm that only looks cheap because logins starve shows.
 *
 * It shares the server's cores, so it is as light as it can be: node:http with a keep-alive agent
 * (about 1.3 ms of CPU per login here), not fetch (about 3.3 ms: more than the server's own main
 * thread spends on a login, and run-queue time the server's event loop then waits behind).
 *
 * Usage: node --import tsx bench/storm.ts <login url> <emails.json> <password> <perSecond> <seconds>
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";

const [url, emailsFile, password, perSecond = "50", seconds = "5"] = process.argv.slice(2);
const emails = JSON.parse(readFileSync(emailsFile!, "utf8")) as string[];
const rate = Number(perSecond);
const total = Math.round(rate * Number(seconds));
const statuses: Record<string, number> = {};
let ok = 0;
const latencies: number[] = [];

const agent = new Agent({ keepAlive: true });

/** POSTs the body to the login URL; the response's status once its body is read. */
function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    const req = request(url!, { method: "POST", agent, headers }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function login(email: string): Promise<void> {
  const start = performance.now();
  try {
    const status = await post(JSON.stringify({ email, password }));
    if (status === 200) {
      ok++;
      latencies.push(performance.now() - start);
    } else {
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  } catch {
    statuses.network = (statuses.network ?? 0) + 1;
  }
}

// Fire on a fixed schedule (open loop): a slow server gets more concurrent logins, not fewer.
const started = performance.now();
const pending: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  pending.push(login(emails[Math.floor(Math.random() * emails.length)]!));
}
await Promise.all(pending);
// Latency of the successful logins, ms: a storm that starves argon2 shows here first.
latencies.sort((a, b) => a - b);
const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
const elapsed = (performance.now() - started) / 1000;
const result = { attempted: total, ok, others: statuses, seconds: elapsed, p50: at(0.5), p99: at(0.99), max: at(1) };
process.stdout.write(`${JSON.stringify(result)}\n`);
agent.destroy();
