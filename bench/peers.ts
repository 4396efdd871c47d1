/**
 * The peer: better-auth (bench/peers/, its own package.json, installed apart from the project:
 * `npm --prefix bench/peers install`), driven by the same load generator on the same kind of
 * route, a protected `GET /profile` that returns the user (`auth.api.getSession`), in two modes:
 * exact (the session and user read from the database on every request, as tokenver's /profile
 * reads the user) and cookie cache (the session in a signed cookie: no read, and a revoked session
 * keeps working until the cookie expires; an hour here, better-auth's default is 5 minutes).
 * Compared with the same ceiling as tokenver's /profile (bench/prepared-read-server.ts), in
 * rounds of its own.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, SECRET } from "./constants.js";
import type { Work } from "./measure.js";
import type { Options } from "./options.js";
import { runJson, serversCpuMs, startServer, stopServer, type Server } from "./processes.js";
import type { LoadResult } from "./load.js";
import { median } from "./stats.js";

const PEERS = join(ROOT, "bench/peers");

export interface PeerResult {
  id: string;
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUsPerRequest: number | undefined;
}

export interface Peers {
  results: PeerResult[] | { skipped: string };
  print(): void;
}

/** What bench/peers/better-auth-seed.mjs prints: the cookies of the seeded sessions, one file per mode. */
interface PeerSeed {
  sessions: number;
  exactCookies: string;
  cachedCookies: string;
}

export async function runPeers({
  dir,
  options,
  work,
  ceiling,
  log,
}: {
  dir: string;
  options: Options;
  work: Work;
  /** The prepared-read ceiling server of the run (bench/prepared-read-server.ts). */
  ceiling: Server;
  log: (message: string) => void;
}): Promise<Peers> {
  if (!existsSync(join(PEERS, "node_modules/better-auth"))) {
    const reason = "better-auth is not installed: npm --prefix bench/peers install";
    log(`peer skipped: ${reason}`);
    return { results: { skipped: reason }, print: () => process.stdout.write(`\npeer (better-auth): skipped: ${reason}\n`) };
  }
  const file = join(dir, "better-auth.db");
  const sessions = Math.min(options.tokens, 2000);
  const servers: Server[] = [];
  try {
    const env = { BENCH_SECRET: SECRET, BENCH_DB: file };
    const seed = await runJson<PeerSeed>([join(PEERS, "better-auth-seed.mjs"), file, String(sessions), dir], env);
    log(`peer: seeded better-auth with ${seed.sessions} sessions`);
    const start = async (name: string, extra: Record<string, string>, args: string[]) => {
      const server = await startServer(name, args, { ...env, ...extra });
      servers.push(server);
      return server;
    };
    const exact = await start("better-auth-exact", { BENCH_COOKIE_CACHE: "0" }, [join(PEERS, "better-auth-server.mjs")]);
    const cached = await start("better-auth-cache", { BENCH_COOKIE_CACHE: "1" }, [
      "--import",
      "tsx",
      join(PEERS, "better-auth-server.mjs"),
    ]);
    const targets = [
      {
        id: "prepared-read",
        label: "1c ceiling: fast-jwt + prepared user read",
        server: ceiling,
        text: work.tokensText,
        json: work.tokensFile,
        header: "authorization" as const,
      },
      {
        id: "better-auth-exact",
        label: "better-auth getSession, exact",
        server: exact,
        text: seed.exactCookies,
        json: `${seed.exactCookies}.json`,
        header: "cookie" as const,
      },
      {
        id: "better-auth-cache",
        label: "better-auth getSession, cookie cache (1 h)",
        server: cached,
        text: seed.cachedCookies,
        json: `${seed.cachedCookies}.json`,
        header: "cookie" as const,
      },
    ];
    const rounds = new Map<string, (LoadResult & { cpu: number | undefined })[]>(targets.map((t) => [t.id, []]));
    const measure = async (t: (typeof targets)[number], seconds: number) => {
      const before = serversCpuMs([t.server]);
      const load = await work.load.measure({
        engine: work.engine,
        targets: [{ url: t.server.url, connections: 10 }],
        path: "/profile",
        durationSeconds: seconds,
        tokensFile: t.json,
        tokensText: t.text,
        header: t.header,
      });
      const after = serversCpuMs([t.server]);
      return {
        ...load,
        cpu: before === undefined || after === undefined || load.requests === 0 ? undefined : ((after - before) * 1000) / load.requests,
      };
    };
    for (const t of targets) await measure(t, Math.min(2, options.duration));
    for (let round = 1; round <= options.rounds; round++) {
      for (const t of targets) rounds.get(t.id)!.push(await measure(t, options.duration));
      log(
        `peer round ${round}/${options.rounds}: ${targets.map((t) => `${t.id} ${Math.round(rounds.get(t.id)!.at(-1)!.rps)}`).join(", ")}`,
      );
    }
    const results: PeerResult[] = targets.map((t) => {
      const r = rounds.get(t.id)!;
      const cpus = r.map((x) => x.cpu);
      return {
        id: t.id,
        label: t.label,
        rps: median(r.map((x) => x.rps)),
        p50: median(r.map((x) => x.p50)),
        p99: median(r.map((x) => x.p99)),
        errors: r.reduce((n, x) => n + x.errors + x.non2xx, 0),
        cpuUsPerRequest: cpus.every((x): x is number => x !== undefined) ? median(cpus) : undefined,
      };
    });
    writeFileSync(join(dir, "peers.json"), JSON.stringify(results));
    return { results, print: () => printPeers(results) };
  } catch (error) {
    const reason = (error as Error).message;
    log(`peer failed: ${reason}`);
    return { results: { skipped: reason }, print: () => process.stdout.write(`\npeer (better-auth): failed: ${reason}\n`) };
  } finally {
    await Promise.all(servers.map(stopServer));
  }
}

function printPeers(results: PeerResult[]): void {
  const ceiling = results.find((r) => r.id === "prepared-read")!;
  process.stdout.write("\npeer, GET /profile returning the user (rounds of their own, same load generator):\n");
  for (const r of results) {
    const ratio = r === ceiling ? "" : `  ${(r.rps / ceiling.rps).toFixed(2)} of the ceiling`;
    const byCpu =
      r === ceiling || r.cpuUsPerRequest === undefined || ceiling.cpuUsPerRequest === undefined
        ? ""
        : ` (${(ceiling.cpuUsPerRequest / r.cpuUsPerRequest).toFixed(2)} by CPU)`;
    const cpu = r.cpuUsPerRequest === undefined ? "" : `, CPU ${r.cpuUsPerRequest.toFixed(1)} µs/req`;
    process.stdout.write(
      `  ${r.label.padEnd(44)} ${Math.round(r.rps).toLocaleString("en-US").padStart(7)} req/s  p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}${cpu}${ratio}${byCpu}\n`,
    );
  }
}
