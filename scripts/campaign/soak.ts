/**
 * The soak run: a steady, moderate, fixed request rate for a long time against one SQLite server
 * and the three-node cluster (PostgreSQL + Redis), side by side, while every server process's
 * resident memory, V8 heap (from its /metrics) and open file descriptors are sampled; at the end,
 * each process's warm figures against its final ones, judged against stated bounds
 * (soak-sample.ts; docs/campaign.md, "The soak run").
 *
 *   node --import tsx scripts/campaign/soak.ts [--duration 1800] [--rate 60] [--targets sqlite,cluster]
 *
 * Exit code: 0 within the bounds, 1 a bound exceeded (or a server died), 2 the run itself failed.
 */
import { randomBytes } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cleanEnv, freePort } from "../../test/support/process.js";
import { Cluster, Guarded } from "./cluster.js";
import { Random } from "./random.js";
import { serverCommand } from "./server.js";
import { BOUNDS, judge, readHeap, readProc, type ProcessSample } from "./soak-sample.js";
import { numberOption } from "./cli-number.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "1800" },
    rate: { type: "string", default: "60" },
    targets: { type: "string", default: "sqlite,cluster" },
    warmup: { type: "string", default: "300" },
    interval: { type: "string", default: "10" },
    users: { type: "string", default: "40" },
    seed: { type: "string" },
    server: { type: "string", default: "snapshot" },
    results: { type: "string", default: "docs/soak-results.json" },
    dir: { type: "string" },
    "database-url": { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`usage: node --import tsx scripts/campaign/soak.ts [options]
  --duration S        seconds of load (default 1800)
  --rate N            requests per second to each target (default 60)
  --targets LIST      sqlite, cluster or both, at the same time (default sqlite,cluster)
  --warmup S          the warm figures are those of the minute after this (default 300)
  --interval S        seconds between samples (default 10)
  --users N           users per target (default 40)
  --seed N            seed of the request mix (default: random, printed)
  --server MODE       snapshot (default), dist or source, as for the campaign
  --results FILE      where the figures go (default docs/soak-results.json; "-" for none)
  --dir DIR           logs and samples (default .tmp/soak/<time>)
  --database-url URL  PostgreSQL to create the cluster's database in (as for the campaign)`);
  process.exit(0);
}

const num = (name: string, value: string, min: number) => numberOption("soak", name, value, min);
const duration = num("duration", values.duration!, 1);
const rate = num("rate", values.rate!, 1);
const warmup = num("warmup", values.warmup!, 0);
const interval = num("interval", values.interval!, 1);
const userCount = num("users", values.users!, 1);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : num("seed", values.seed, 0);
const targets = values.targets!.split(",").map((t) => t.trim());
if (targets.length === 0 || targets.some((t) => t !== "sqlite" && t !== "cluster")) {
  console.error("soak: --targets is a list of sqlite and cluster");
  process.exit(2);
}
const dir = resolve(ROOT, values.dir ?? join(".tmp", "soak", new Date().toISOString().replace(/[:.]/g, "-")));
mkdirSync(dir, { recursive: true });
const adminUrl =
  values["database-url"] ??
  process.env.TOKENVER_CAMPAIGN_DATABASE_URL ??
  process.env.TOKENVER_TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const log = (message: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** A server process to sample. */
interface Watched {
  name: string;
  target: string;
  pid(): number | undefined;
  metricsPort?: number;
  samples: ProcessSample[];
  pids: Set<number>;
}

interface Session {
  user: number;
  access: string;
  refresh: string;
  busy: boolean;
}

const WEIGHTS = { profile: 60, refresh: 18, sessions: 8, login: 5, logout: 5, patch: 4 } as const;
type Kind = keyof typeof WEIGHTS;
/** At most this many requests of one target in flight: beyond it, a request due is skipped (and counted). */
const MAX_IN_FLIGHT = 200;
/**
 * Keep-alive connections per server: a fixed pool, as a load balancer keeps, so that a server's
 * descriptors measure the server (its stores, its listeners), not how many requests happened to be
 * queued at a sample. Requests beyond it wait in the pool.
 */
const CONNECTIONS_PER_SERVER = 8;

/**
 * The load on one target: an open loop at a fixed rate (a request is sent when it is due, whether
 * or not the earlier ones have answered), over a pool of users and their sessions. Logins and
 * logouts balance (the pool stays between 20 and 150 sessions); refreshes rotate tokens; access
 * tokens that expire are refreshed.
 */
class Load {
  readonly counts: Record<string, Record<string, number>> = {};
  sent = 0;
  skipped = 0;
  inFlight = 0;
  /** Latencies (ms) of the current sampling interval, and of the whole run after the warm-up (bounded reservoir). */
  window: number[] = [];
  readonly reservoir: number[] = [];
  #seen = 0;
  readonly sessions: Session[] = [];
  readonly users: { email: string; password: string }[] = [];
  #stopped = false;
  readonly #random: Random;
  readonly #agents: Agent[];

  constructor(
    readonly name: string,
    readonly urls: string[],
    readonly rate: number,
    seedOffset: number,
  ) {
    this.#random = new Random(seed + seedOffset);
    this.#agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: CONNECTIONS_PER_SERVER }));
  }

  stop(): void {
    this.#stopped = true;
  }

  close(): void {
    for (const agent of this.#agents) agent.destroy();
  }

  async setup(users: number): Promise<void> {
    for (let i = 0; i < users; i += 4) {
      await Promise.all(
        Array.from({ length: Math.min(4, users - i) }, async (_, j) => {
          const user = {
            email: `soak-${randomBytes(6).toString("hex")}@example.com`,
            password: `soak ${randomBytes(9).toString("base64url")} pass`,
          };
          const answer = await this.#request("register", (i + j) % this.urls.length, "POST", "/register", user);
          if (answer.status !== 201) throw new Error(`${this.name}: registration answered ${answer.status}`);
          this.users.push(user);
          this.sessions.push({ user: this.users.length - 1, access: answer.body.access, refresh: answer.body.refresh, busy: false });
        }),
      );
    }
  }

  async run(durationMs: number, now: () => number, warmupMs: number): Promise<void> {
    const begin = now();
    while (!this.#stopped && now() - begin < durationMs) {
      const due = Math.floor(((now() - begin) / 1000) * this.rate);
      while (this.sent + this.skipped < due) {
        if (this.inFlight >= MAX_IN_FLIGHT) {
          this.skipped++;
          continue;
        }
        this.sent++;
        this.inFlight++;
        const started = now();
        void this.#one()
          .catch((error: unknown) => console.error(`soak: ${this.name}:`, error))
          .finally(() => {
            this.inFlight--;
            const ms = now() - started;
            this.window.push(ms);
            if (started - begin >= warmupMs) {
              // Reservoir sampling: a uniform sample of 20,000 latencies of the warm part.
              this.#seen++;
              if (this.reservoir.length < 20_000) this.reservoir.push(ms);
              else {
                const k = this.#random.int(this.#seen);
                if (k < 20_000) this.reservoir[k] = ms;
              }
            }
          });
      }
      await sleep(20);
    }
    while (this.inFlight > 0) await sleep(50);
  }

  async #one(): Promise<void> {
    const random = this.#random;
    const node = random.int(this.urls.length);
    let kind: Kind = random.weighted(WEIGHTS);
    const free = this.sessions.filter((s) => !s.busy);
    if (kind === "login" && this.sessions.length >= 150) kind = "logout";
    if ((kind !== "login" && free.length === 0) || (kind === "logout" && this.sessions.length <= 20)) kind = "login";
    if (kind === "login") {
      const u = random.int(this.users.length);
      const answer = await this.#request("login", node, "POST", "/login", this.users[u]);
      if (answer.status === 200) this.sessions.push({ user: u, access: answer.body.access, refresh: answer.body.refresh, busy: false });
      return;
    }
    const session = random.pick(free);
    if (kind === "refresh") return this.#refresh(session, node);
    if (kind === "logout") {
      session.busy = true;
      await this.#request("logout", node, "POST", "/logout", { scope: "session" }, session.access);
      this.#drop(session);
      return;
    }
    const answer =
      kind === "profile"
        ? await this.#request("profile", node, "GET", "/profile", undefined, session.access)
        : kind === "sessions"
          ? await this.#request("sessions", node, "GET", "/sessions", undefined, session.access)
          : await this.#request("patch", node, "PATCH", "/profile", { username: `soak${random.int(1_000_000)}` }, session.access);
    if (answer.status === 401 && answer.code === "token_expired") await this.#refresh(session, node);
    else if (answer.status === 401) this.#drop(session);
  }

  async #refresh(session: Session, node: number): Promise<void> {
    if (session.busy) return;
    session.busy = true;
    const answer = await this.#request("refresh", node, "POST", "/token/refresh", { refresh: session.refresh });
    session.busy = false;
    if (answer.status === 200) {
      session.access = answer.body.access;
      session.refresh = answer.body.refresh;
    } else if (answer.status === 401) this.#drop(session);
  }

  #drop(session: Session): void {
    const i = this.sessions.indexOf(session);
    if (i !== -1) this.sessions.splice(i, 1);
  }

  async #request(kind: string, node: number, method: string, path: string, body?: unknown, bearer?: string) {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    let status: number | null = null;
    let parsed: any;
    let code: string | undefined;
    let result: string;
    try {
      const response = await send(
        this.#agents[node]!,
        this.urls[node]! + path,
        method,
        headers,
        body === undefined ? undefined : JSON.stringify(body),
      );
      status = response.status;
      const text = response.text;
      try {
        parsed = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      code = status >= 400 && typeof parsed?.code === "string" ? parsed.code : undefined;
      result = code === undefined ? String(status) : `${status} ${code}`;
    } catch (error) {
      const e = error as { code?: string; name?: string };
      result = e.code ?? e.name ?? "error";
    }
    const byKind = (this.counts[kind] ??= {});
    byKind[result] = (byKind[result] ?? 0) + 1;
    return { status, body: parsed, code };
  }
}

/** One request over the pool's keep-alive connections; "timeout" after 30 s (queueing in the pool included). */
function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body: string | undefined) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
    req.on("error", reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number | null) => (bytes === null ? null : round(bytes / 2 ** 20));

let cluster: Cluster | undefined;
let sqlite: Guarded | undefined;
const loads: Load[] = [];
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const l of loads) l.stop();
    if (sqlite !== undefined && sqlite.running) {
      sqlite.kill("SIGTERM");
      const timer = setTimeout(() => sqlite!.kill("SIGKILL"), 10_000);
      await sqlite.exited;
      clearTimeout(timer);
    }
    await cluster?.stop().catch((e: unknown) => console.error("soak: cleanup:", e));
  })());
process.stdout.on("error", () => {});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
const watchdog = setTimeout(
  () => {
    console.error("soak: the watchdog fired; cleaning up");
    void cleanup().then(() => process.exit(2));
  },
  (duration + 600) * 1000,
);

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const { command, compileErrors } = serverCommand(values.server, ROOT, dir, log);
  log(`seed ${seed}; ${targets.join(" + ")} at ${rate} requests/s each for ${duration} s; logs in ${relative(ROOT, dir)}`);
  const secret = randomBytes(48).toString("base64");
  const watched: Watched[] = [];
  const settings = {
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    TOKENVER_SECRET: secret,
    TOKENVER_LOG_LEVEL: "warn",
    // One client address makes every request: throttling would only get in the way.
    TOKENVER_RATE_LIMIT_ACCOUNT: "1000000",
    TOKENVER_RATE_LIMIT_ADDRESS: "1000000",
    TOKENVER_RATE_LIMIT_REGISTER: "1000000",
    TOKENVER_RATE_LIMIT_ADDRESS_LOGINS: "1000000",
  };

  if (targets.includes("sqlite")) {
    const port = await freePort();
    const metricsPort = await freePort();
    const out = createWriteStream(join(dir, "sqlite.log"), { flags: "a" });
    const [cmd, ...args] = command;
    // cwd: the run directory, so the mail the server writes (./data/outbox) stays in it.
    sqlite = await Guarded.start(cmd!, [...args, "serve"], {
      cwd: dir,
      env: cleanEnv({
        ...settings,
        PORT: String(port),
        TOKENVER_DATABASE_URL: `sqlite:${join(dir, "soak.db")}`,
        TOKENVER_METRICS_PORT: String(metricsPort),
      }),
      output: (c) => out.write(c),
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + 60_000;
    while (!(await healthy(url))) {
      if (!sqlite.running || performance.now() > deadline)
        throw new Error(`the SQLite server did not start; see ${join(dir, "sqlite.log")}`);
      await sleep(250);
    }
    const s = sqlite;
    watched.push({
      name: "sqlite",
      target: "sqlite",
      pid: () => (s.running ? s.pid : undefined),
      metricsPort,
      samples: [],
      pids: new Set(),
    });
    loads.push(new Load("sqlite", [url], rate, 1));
    log(`SQLite server up on ${port} (pid ${s.pid})`);
  }
  if (targets.includes("cluster")) {
    cluster = await Cluster.start({
      nodes: 3,
      lease: 5,
      entryTtl: 60,
      command,
      cwd: dir,
      dir: join(dir, "cluster"),
      adminUrl,
      metrics: true,
      log,
    });
    const c = cluster;
    for (const n of c.nodes)
      watched.push({
        name: `node-${n.index}`,
        target: "cluster",
        pid: () => c.pid(n.index),
        ...(n.metricsPort === undefined ? {} : { metricsPort: n.metricsPort }),
        samples: [],
        pids: new Set(),
      });
    watched.push({ name: "redis", target: "cluster", pid: () => c.redis.pid, samples: [], pids: new Set() });
    loads.push(
      new Load(
        "cluster",
        c.nodes.map((n) => c.url(n.index)),
        rate,
        2,
      ),
    );
    log(`cluster up: nodes on ${c.nodes.map((n) => n.port).join(", ")} (pids ${c.nodes.map((n) => c.pid(n.index)).join(", ")})`);
  }

  await Promise.all(loads.map((l) => l.setup(userCount)));
  log(`${userCount} users per target registered; load starts`);
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const startedAt = new Date();
  const samplesFile = createWriteStream(join(dir, "samples.jsonl"));
  const intervals: {
    t: number;
    load: number[];
    perTarget: Record<string, { requests: number; p50: number; p99: number; inFlight: number }>;
  }[] = [];
  let lastSent = new Map(loads.map((l) => [l.name, 0]));
  let sampling = true;
  const sampler = (async () => {
    let next = 0;
    while (sampling) {
      const t = round(now() / 1000);
      for (const w of watched) {
        const pid = w.pid();
        if (pid !== undefined) w.pids.add(pid);
        const proc = pid === undefined ? { rss: null, fds: null } : readProc(pid);
        const heap = w.metricsPort === undefined || pid === undefined ? null : await readHeap(w.metricsPort);
        const sample = { t, ...proc, heap };
        w.samples.push(sample);
        samplesFile.write(JSON.stringify({ process: w.name, pid, ...sample }) + "\n");
      }
      const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
      const perTarget: (typeof intervals)[number]["perTarget"] = {};
      for (const l of loads) {
        const sorted = l.window.sort((a, b) => a - b);
        perTarget[l.name] = {
          requests: l.sent - lastSent.get(l.name)!,
          p50: round(percentile(sorted, 50)),
          p99: round(percentile(sorted, 99)),
          inFlight: l.inFlight,
        };
        l.window = [];
      }
      lastSent = new Map(loads.map((l) => [l.name, l.sent]));
      intervals.push({ t, load, perTarget });
      if (intervals.length % 6 === 1)
        log(
          `${t.toFixed(0)} s: load ${load.join(" ")}; ` +
            watched
              .filter((w) => w.samples.length > 0)
              .map((w) => {
                const s = w.samples[w.samples.length - 1]!;
                return `${w.name} rss ${mb(s.rss)} MB heap ${mb(s.heap)} MB fds ${s.fds}`;
              })
              .join("; "),
        );
      next += interval * 1000;
      while (sampling && now() < next) await sleep(Math.min(250, next - now()));
    }
  })();

  await Promise.all(loads.map((l) => l.run(duration * 1000, () => now(), warmup * 1000)));
  for (const l of loads) l.close();
  sampling = false;
  await sampler;
  samplesFile.end();
  const seconds = round(now() / 1000);
  log("load stopped");
  const died = watched.filter((w) => w.pids.size !== 1 || w.pid() === undefined).map((w) => w.name);
  await cleanup();

  const processes = watched.map((w) => {
    const j = judge(w.samples, warmup);
    const f = (x: typeof j.rss, toMb: boolean) => ({
      warm: toMb ? mb(x.warm) : x.warm,
      final: toMb ? mb(x.final) : x.final,
      maxAfterWarm: toMb ? mb(x.maxAfterWarm) : x.maxAfterWarm,
      max: toMb ? mb(x.max) : x.max,
      slopePer10Min: x.slopePer10Min === null ? null : toMb ? mb(x.slopePer10Min) : round(x.slopePer10Min, 2),
    });
    return {
      process: w.name,
      target: w.target,
      pids: [...w.pids],
      samples: w.samples.length,
      rssMB: f(j.rss, true),
      heapMB: f(j.heap, true),
      fds: f(j.fds, false),
      checks: j.checks,
      ok: j.ok && !died.includes(w.name),
      series: w.samples.map((s) => [s.t, mb(s.rss), mb(s.heap), s.fds]),
    };
  });
  const loadAvg = intervals.map((i) => i.load[0]!);
  const perTarget = Object.fromEntries(
    loads.map((l) => {
      const sorted = [...l.reservoir].sort((a, b) => a - b);
      return [
        l.name,
        {
          rate: l.rate,
          sent: l.sent,
          skipped: l.skipped,
          perSecond: round(l.sent / seconds),
          byType: l.counts,
          latencyAfterWarmupMs: {
            p50: round(percentile(sorted, 50)),
            p99: round(percentile(sorted, 99)),
            max: round(sorted[sorted.length - 1] ?? 0),
          },
        },
      ];
    }),
  );
  const ok = processes.every((p) => p.ok);
  const output = {
    date: startedAt.toISOString(),
    command: `node --import tsx scripts/campaign/soak.ts ${process.argv.slice(2).join(" ")}`.trim(),
    options: { duration, rate, targets, warmup, interval, users: userCount, seed, server: values.server },
    server: compileErrors.length > 0 ? { compileErrors } : {},
    machine: {
      node: process.version,
      cpus: cpus().length,
      loadAverage1m: { min: Math.min(...loadAvg), median: loadAvg.sort((a, b) => a - b)[loadAvg.length >> 1], max: Math.max(...loadAvg) },
    },
    seconds,
    bounds: {
      rss: `final <= ${BOUNDS.rssGrowth} x warm`,
      heap: `final <= ${BOUNDS.heapGrowth} x warm`,
      fds: `final <= warm + ${BOUNDS.fdsGrowth}`,
      warm: `median of the samples in the minute after ${warmup} s`,
      final: "median of the samples of the last minute",
    },
    verdict: ok
      ? "within the bounds"
      : `outside the bounds: ${processes
          .filter((p) => !p.ok)
          .map((p) => p.process)
          .join(", ")}`,
    ...(died.length > 0 ? { restartedOrDied: died } : {}),
    targets: perTarget,
    processes,
    intervals,
  };
  writeFileSync(join(dir, "results.json"), JSON.stringify(output, null, 2) + "\n");
  if (values.results !== "-") {
    writeFileSync(resolve(ROOT, values.results!), JSON.stringify(output, null, 2) + "\n");
    log(`results in ${values.results}`);
  }
  for (const p of processes)
    log(
      `${p.process}: rss ${p.rssMB.warm} -> ${p.rssMB.final} MB (max ${p.rssMB.maxAfterWarm}), heap ${p.heapMB.warm} -> ${p.heapMB.final} MB, ` +
        `fds ${p.fds.warm} -> ${p.fds.final} (max ${p.fds.maxAfterWarm}): ${p.ok ? "ok" : "OUTSIDE THE BOUNDS"}`,
    );
  for (const [name, t] of Object.entries(perTarget))
    log(
      `${name}: ${t.sent} requests (${t.perSecond}/s), ${t.skipped} skipped, p50 ${t.latencyAfterWarmupMs.p50} ms, p99 ${t.latencyAfterWarmupMs.p99} ms`,
    );
  log(output.verdict);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  async (error: unknown) => {
    console.error("soak: failed:", error);
    await cleanup();
    clearTimeout(watchdog);
    process.exit(2);
  },
);
