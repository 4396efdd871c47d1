// How the invalidation protocol scales (issue #17): revocation latency with 3, 10 and 20 node
// processes over one PostgreSQL and one Redis, idle and with one node paused, and the Redis
// commands each revocation costs. A script that prints figures (and writes them as JSON), never a
// test: `npm run build && node --import tsx scripts/campaign/latency.ts [--nodes 3,10,20]`.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { Cluster } from "./cluster.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "3,10,20" },
    revocations: { type: "string", default: "60" },
    lease: { type: "string", default: "5" },
    out: { type: "string", default: join(ROOT, ".tmp", "latency") },
  },
});
const sizes = values.nodes.split(",").map(Number);
const revocations = Number(values.revocations);
const lease = Number(values.lease);
const adminUrl = process.env.TOKENVER_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const command = [process.execPath, join(ROOT, "dist", "cli.js")];
if (!existsSync(command[1]!)) throw new Error("latency: run `npm run build` first (the nodes run dist/cli.js)");
mkdirSync(values.out, { recursive: true });

const log = (message: string) => console.log(`[latency] ${message}`);

async function call(url: string, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const started = performance.now();
  const response = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, ms: performance.now() - started };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (x: number) => Math.round(x * 10) / 10;
function summary(ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: ms.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1)!) };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

/** Registers users on node 0 and has every node read each of them (every node caches them). */
async function usersOnEveryNode(cluster: Cluster, count: number): Promise<{ access: string }[]> {
  const users: { access: string }[] = [];
  for (let i = 0; i < count; i++) {
    const r = await call(cluster.url(i % cluster.nodes.length), "POST", "/register", {
      email: `latency-${process.pid}-${Date.now()}-${i}@example.com`,
      password: "a long and unguessable passphrase",
    });
    if (r.status !== 201) throw new Error(`register: ${r.status}`);
    users.push({ access: r.body.access });
  }
  for (const user of users)
    await Promise.all(cluster.nodes.map(async (n) => (await call(cluster.url(n.index), "GET", "/profile", undefined, user.access)).status));
  return users;
}

/** Logs each user out (a version bump: one revocation each) on node i mod N, one at a time. */
async function revoke(cluster: Cluster, users: { access: string }[], skip = -1): Promise<number[]> {
  const ms: number[] = [];
  let i = 0;
  for (const user of users) {
    let node = i++ % cluster.nodes.length;
    if (node === skip) node = (node + 1) % cluster.nodes.length;
    const r = await call(cluster.url(node), "POST", "/logout", undefined, user.access);
    if (r.status !== 204) throw new Error(`logout on node ${node}: ${r.status} ${JSON.stringify(r.body)}`);
    ms.push(r.ms);
  }
  return ms;
}

const results: Record<string, unknown>[] = [];
for (const size of sizes) {
  log(`${size} nodes: starting`);
  const dir = join(values.out, `nodes-${size}`);
  const cluster = await Cluster.start({ nodes: size, lease, entryTtl: 2, command, cwd: ROOT, dir, adminUrl, log });
  const redis = new Redis({ port: cluster.redis.port, host: "127.0.0.1", lazyConnect: true });
  try {
    await redis.connect();
    await sleep(3_000); // every node trusts Redis one entry lifetime after start
    // The background: heartbeats and lease renewals of every node, per second.
    const idleStart = await commandsProcessed(redis);
    await sleep(5_000);
    const idlePerSecond = ((await commandsProcessed(redis)) - idleStart - 2) / 5;

    const users = await usersOnEveryNode(cluster, revocations);
    const before = await commandsProcessed(redis);
    const started = performance.now();
    const idle = await revoke(cluster, users);
    const seconds = (performance.now() - started) / 1000;
    const spent = (await commandsProcessed(redis)) - before - 2 - idlePerSecond * seconds;
    const commandsPerRevocation = round(spent / users.length);
    log(`${size} nodes idle: ${JSON.stringify(summary(idle))}, ~${commandsPerRevocation} Redis commands per revocation`);

    // One node paused (SIGSTOP): revocations wait for it until its lease runs out, then go on without it.
    const paused = await usersOnEveryNode(cluster, 12);
    const victim = size - 1;
    cluster.pauseNode(victim);
    const pausedMs = await revoke(cluster, paused, victim);
    cluster.resumeNode(victim);
    log(`${size} nodes, node ${victim} paused: latencies in order ${pausedMs.map((m) => Math.round(m)).join(", ")} ms`);
    results.push({
      nodes: size,
      leaseSeconds: lease,
      idle: summary(idle),
      redisCommandsPerRevocation: commandsPerRevocation,
      redisBackgroundCommandsPerSecond: round(idlePerSecond),
      onePaused: { ...summary(pausedMs), inOrderMs: pausedMs.map((m) => Math.round(m)) },
    });
  } finally {
    redis.disconnect();
    await cluster.stop();
  }
}

const file = join(values.out, "latency.json");
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), revocations, results }, null, 2) + "\n");
console.table(
  results.map((r: any) => ({
    nodes: r.nodes,
    "p50 ms": r.idle.p50,
    "p99 ms": r.idle.p99,
    "max ms": r.idle.max,
    "redis cmds/revocation": r.redisCommandsPerRevocation,
    "background cmds/s": r.redisBackgroundCommandsPerSecond,
    "paused: max ms": r.onePaused.max,
    "paused: p50 ms": r.onePaused.p50,
  })),
);
log(`written to ${file}`);
