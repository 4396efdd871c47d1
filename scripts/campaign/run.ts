/**
 * The campaign: three tokenver nodes over one PostgreSQL database and one Redis of the campaign's
 * own, many concurrent clients doing random operations on every node, a schedule of faults, and at
 * the end the checker over everything that was recorded. See docs/campaign.md.
 *
 *   node --import tsx scripts/campaign/run.ts [--duration 600] [--clients 8] [--seed N] ...
 *
 * Exit code: 0 clean, 1 a violation was found, 2 the campaign itself failed.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { check } from "./checker.js";
import { Cluster } from "./cluster.js";
import { FaultSchedule } from "./faults.js";
import { toLine, type FaultRecord, type Operation } from "./history.js";
import { startSmtp, type TestSmtp } from "../../test/support/smtp.js";
import { serverCommand } from "./server.js";
import { formatSummary, summarize } from "./summary.js";
import { Workload, type MailBox } from "./workload.js";
import { numberOption } from "./cli-number.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "600" },
    clients: { type: "string", default: "8" },
    seed: { type: "string" },
    nodes: { type: "string", default: "3" },
    lease: { type: "string", default: "5" },
    "entry-ttl": { type: "string", default: "5" },
    "think-ms": { type: "string", default: "40" },
    "request-timeout": { type: "string", default: "10" },
    "fault-gap": { type: "string", default: "2-6" },
    overlap: { type: "string", default: "0.25" },
    "no-faults": { type: "boolean", default: false },
    server: { type: "string", default: "snapshot" },
    results: { type: "string", default: "docs/campaign-results.json" },
    dir: { type: "string" },
    "database-url": { type: "string" },
    sabotage: { type: "string" },
    "key-revoke-every": { type: "string", default: "60" },
    "v2-weight": { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`usage: node --import tsx scripts/campaign/run.ts [options]
  --duration S         seconds of load and faults (default 600)
  --clients N          concurrent clients (default 8)
  --seed N             seed of the operations and the fault schedule (default: random, printed)
  --nodes N            tokenver processes (default 3)
  --lease S            TOKENVER_REDIS_NODE_LEASE (default 5)
  --entry-ttl S        TOKENVER_REDIS_ENTRY_TTL (default 5)
  --think-ms MS        each client waits up to this long between operations (default 40)
  --request-timeout S  a request with no answer by then is indeterminate (default 10)
  --fault-gap A-B      seconds between faults (default 2-6)
  --overlap P          probability that two faults overlap (default 0.25)
  --no-faults          load only
  --key-revoke-every S \`tokenver keys revoke\` of the signing key every S seconds (default 60; 0 never)
  --v2-weight X        scale the weights of the v2 flows (reset, email change, deletion, second
                       factor, admin) against the v1 operations (default 1; 0 none)
  --server MODE        snapshot (compile src/ once into the run directory: later edits do not
                       leak in), dist (node dist/cli.js serve), source (tsx src/cli.ts)
  --results FILE       where the figures go (default docs/campaign-results.json; "-" for none)
  --dir DIR            history and logs (default .tmp/campaign/<time>)
  --sabotage prefix    self-test: the last node gets a Redis prefix of its own (a broken
                       deployment); the campaign must then find violations
  --database-url URL   PostgreSQL to create the run's database in (default
                       $TOKENVER_CAMPAIGN_DATABASE_URL, $TOKENVER_TEST_DATABASE_URL or
                       postgres://postgres@127.0.0.1:5432/postgres)`);
  process.exit(0);
}

const int = (name: string, value: string, min: number) => numberOption("campaign", name, value, min);
const duration = int("duration", values.duration!, 1);
const clients = int("clients", values.clients!, 1);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int("seed", values.seed, 0);
const nodes = int("nodes", values.nodes!, 1);
const lease = int("lease", values.lease!, 1);
const entryTtl = int("entry-ttl", values["entry-ttl"]!, 1);
const thinkMs = int("think-ms", values["think-ms"]!, 0);
const requestTimeout = int("request-timeout", values["request-timeout"]!, 1);
const [gapMin, gapMax] = values["fault-gap"]!.split("-").map((x) => int("fault-gap", x, 0) * 1000) as [number, number];
const overlap = Number(values.overlap);
const keyRevokeEvery = int("key-revoke-every", values["key-revoke-every"]!, 0);
const v2Weight = int("v2-weight", values["v2-weight"]!, 0);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const dir = resolve(ROOT, values.dir ?? join(".tmp", "campaign", stamp));
const adminUrl =
  values["database-url"] ??
  process.env.TOKENVER_CAMPAIGN_DATABASE_URL ??
  process.env.TOKENVER_TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";
mkdirSync(dir, { recursive: true });

const log = (message: string) => console.log(`[campaign ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** What was tested: the commit, and a digest of src/ as it was (it may differ from the commit). */
function sourceIdentity() {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  const hash = createHash("sha256");
  const walk = (d: string): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((name) => {
        const p = join(d, name);
        return statSync(p).isDirectory() ? walk(p) : [p];
      });
  for (const file of walk(join(ROOT, "src"))) hash.update(relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  const changed = git("status", "--porcelain", "--", "src")
    .split("\n")
    .filter((l) => l.trim() !== "");
  writeFileSync(join(dir, "src.diff"), git("diff", "HEAD", "--", "src") + "\n");
  return { commit: git("rev-parse", "HEAD"), srcChangedFiles: changed.length, srcDigest: hash.digest("hex").slice(0, 16) };
}

let compileErrors: string[] = [];

/** The command that starts a server (server.ts); the snapshot is compiled from src/ once, into the run directory. */
function startCommand(): string[] {
  try {
    const built = serverCommand(values.server, ROOT, dir, log);
    compileErrors = built.compileErrors;
    return built.command;
  } catch (error) {
    console.error(`campaign: ${(error as Error).message}`);
    process.exit(2);
  }
}

const operations: Operation[] = [];
const faults: FaultRecord[] = [];
const history = createWriteStream(join(dir, "history.jsonl"));
let t0 = performance.now();
const now = () => Math.round((performance.now() - t0) * 1000) / 1000;

let cluster: Cluster | undefined;
let workload: Workload | undefined;
let schedule: FaultSchedule | undefined;
let smtp: TestSmtp | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    schedule?.stop();
    workload?.stop();
    await cluster?.stop().catch((e: unknown) => console.error("campaign: cleanup:", e));
    await smtp?.close().catch(() => {});
    await new Promise<void>((r) => history.end(r));
  })());

// A parent that went away (a test runner that gave up) must not stop the cleanup.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
// Bounded whatever happens: the run, the tail, the final reads, and a margin.
const watchdog = setTimeout(
  () => {
    console.error("campaign: the watchdog fired; cleaning up");
    void cleanup().then(() => process.exit(2));
  },
  (duration + 600) * 1000,
);

async function main(): Promise<number> {
  const identity = sourceIdentity();
  const command = startCommand();
  log(`seed ${seed}, ${clients} clients, ${nodes} nodes, ${duration} s; history and logs in ${relative(ROOT, dir)}`);
  if (values.sabotage !== undefined && values.sabotage !== "prefix") throw new Error("--sabotage must be prefix");
  const sabotage = values.sabotage === "prefix" ? ("prefix" as const) : undefined;
  if (sabotage) log("SABOTAGE: the last node gets a Redis prefix of its own; this run must find violations");
  // The mail the nodes send (reset and verification links, notices) comes here, over SMTP on loopback.
  smtp = await startSmtp();
  const box = smtp;
  const mail: MailBox = {
    count: (address, subject) => box.to(address).filter((m) => m.subject.includes(subject)).length,
    async link(address, subject, after, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        const found = box.to(address).filter((m) => m.subject.includes(subject))[after];
        if (found !== undefined) return /#token=([A-Za-z0-9_-]+)/.exec(found.text)?.[1];
        await sleep(100);
      }
      return undefined;
    },
  };
  cluster = await Cluster.start({
    nodes,
    lease,
    entryTtl,
    command,
    cwd: ROOT,
    dir,
    adminUrl,
    log,
    smtpUrl: smtp.url,
    ...(sabotage ? { sabotage } : {}),
  });
  log(`nodes up on ${cluster.nodes.map((n) => n.port).join(", ")}; Redis on ${cluster.redis.port}; database ${cluster.database}`);
  const c = cluster;
  // An admin for the admin API, made the way docs/operations.md says (the CLI, password on stdin).
  const admin = { email: `campaign-admin-${process.pid}@example.com`, password: `campaign admin ${randomBytes(9).toString("base64url")}` };
  const created = v2Weight > 0 ? await c.command(["users", "create", admin.email, "--admin"], admin.password + "\n") : undefined;
  if (created !== undefined && created.code !== 0)
    throw new Error(`tokenver users create --admin failed (${created.code}): ${created.output}`);
  t0 = performance.now();
  const startedAt = new Date();
  workload = new Workload(
    { nodes, url: (i) => c.url(i) },
    {
      clients,
      seed,
      requestTimeoutMs: requestTimeout * 1000,
      thinkMs,
      initialUsers: Math.max(4, clients * 2),
      maxUsers: Math.max(8, clients * 4),
      mail,
      ...(created !== undefined ? { admin } : {}),
      v2Weight,
      now,
      record: (op) => {
        operations.push(op);
        history.write(toLine(op) + "\n");
      },
    },
  );
  const end = duration * 1000;
  schedule = new FaultSchedule(c, {
    seed,
    // The last fault starts early enough to be over, and recovered from, before the load stops.
    until: Math.max(0, end - Math.min(15_000, end / 4)),
    warmupMs: Math.min(5_000, end / 4),
    gapMs: [gapMin, gapMax],
    overlap,
    now,
    record: (f) => {
      faults.push(f);
      history.write(toLine(f) + "\n");
    },
    log,
  });
  const load = workload.run();
  const faulting = values["no-faults"] ? Promise.resolve() : schedule.run();
  // `tokenver keys revoke` of the key that signs, now and then, while everything else goes on.
  const w = workload;
  let keyRevocations = 0;
  const revoking = (async () => {
    if (keyRevokeEvery === 0) return;
    for (let at = keyRevokeEvery * 1000; at < end - 15_000; at += keyRevokeEvery * 1000) {
      while (now() < at) {
        if (now() >= end) return;
        await sleep(Math.min(500, at - now()));
      }
      const kid = await w.revokeKey(async (k) => {
        const result = await c.command(["keys", "revoke", k], "", 60_000);
        return { code: result.code, ...(result.code === 0 ? {} : { error: `exit ${result.code}: ${result.output.split("\n")[0]}` }) };
      });
      if (kid !== undefined) {
        keyRevocations++;
        log(`keys revoke ${kid.slice(0, 12)}...`);
      }
    }
  })();
  const progress = setInterval(
    () => log(`${(now() / 1000).toFixed(0)} s: ${operations.length} operations, ${faults.length} faults`),
    30_000,
  );
  await sleep(end);
  schedule.stop();
  await faulting;
  await revoking;
  workload.stop();
  await load;
  clearInterval(progress);
  log(`${keyRevocations} key revocation(s), ${smtp.received.length} mails received`);

  log("load stopped; healing and waiting for the caches to settle");
  const healed = await c.heal();
  if (!healed) log("WARNING: a node did not come back; the final reads will show it");
  await sleep((entryTtl + lease + 2) * 1000);
  const probed = await workload.finalProbe();
  log(`final reads: ${probed} tokens on every node`);
  await cleanup();

  const began = performance.now();
  const result = check(operations);
  log(`checked in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  const summary = summarize(operations, faults);
  console.log(formatSummary(summary, result));
  const output = {
    date: startedAt.toISOString(),
    command: `node --import tsx scripts/campaign/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    options: {
      duration,
      clients,
      seed,
      nodes,
      lease,
      entryTtl,
      thinkMs,
      requestTimeout,
      faultGap: [gapMin / 1000, gapMax / 1000],
      overlap,
      faults: !values["no-faults"],
      keyRevokeEvery,
      v2Weight,
      ...(values.sabotage ? { sabotage: values.sabotage } : {}),
    },
    server: { mode: values.server, ...identity, ...(compileErrors.length > 0 ? { compileErrors } : {}) },
    machine: { node: process.version, platform: `${process.platform} ${process.arch}` },
    seconds: Math.round(now()) / 1000,
    verdict: result.ok ? "no violation" : `${result.violations.length + result.omitted.violations} violation(s)`,
    ...summary,
    check: {
      ok: result.ok,
      counts: result.counts,
      violations: result.violations.slice(0, 50),
      anomalies: result.anomalies.slice(0, 20),
      omitted: {
        violations: result.omitted.violations + Math.max(0, result.violations.length - 50),
        anomalies: result.omitted.anomalies + Math.max(0, result.anomalies.length - 20),
      },
    },
    history: relative(ROOT, join(dir, "history.jsonl")),
  };
  writeFileSync(join(dir, "results.json"), JSON.stringify(output, null, 2) + "\n");
  if (values.results !== "-") {
    writeFileSync(resolve(ROOT, values.results!), JSON.stringify(output, null, 2) + "\n");
    log(`results in ${values.results}`);
  }
  log(`history: ${relative(ROOT, join(dir, "history.jsonl"))} (re-check: node --import tsx scripts/campaign/check.ts <file>)`);
  return result.ok ? 0 : 1;
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  async (error: unknown) => {
    console.error("campaign: failed:", error);
    await cleanup();
    clearTimeout(watchdog);
    process.exit(2);
  },
);
