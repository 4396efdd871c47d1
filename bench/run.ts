/**
 * `npm run bench`: how much do tokenver's checks cost? Starts every server as its own process,
 * drives each from another process (bench/load.ts: wrk when it is on PATH, else autocannon),
 * several rounds in turns (A B C A B C ...) so drift cancels, and reports medians and the ratio
 * of each case to its ceiling. Then the write paths (register, login, refresh), the caches'
 * memory, and the better-auth peer when bench/peers/ is installed. See docs/benchmark.md.
 *
 * This file wires the steps together: options.ts (the command line), data.ts (seeded databases,
 * tokens), cases.ts (the cases and their servers), measure.ts (warm-up and rounds), stats.ts
 * (medians and ratios), report.ts (table, verdicts, --out files), peers.ts (better-auth);
 * processes.ts and services.ts start and stop what a run needs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { hashNewPassword } from "../src/core/passwords/form.js";
import { hashPassword } from "../src/core/passwords/hashing.js";
import { setUpCases } from "./cases.js";
import { CONNECTIONS, PASSWORD, ROOT } from "./constants.js";
import { mintTokens, sampleSessions, seedSqliteFiles, writeLoadFiles } from "./data.js";
import { ARGON2_SAMPLES, ARGON2_THREADS, measureRounds, probeCases, stormRateFor, timeArgon2, warmUp, type Work } from "./measure.js";
import { readOptions } from "./options.js";
import { runPeers } from "./peers.js";
import { detectEngine, LoadGenerator, runJson, serversCpuMs, stopServer, tsxArgs, type Server } from "./processes.js";
import { printFlows, printMemory, printNotes, printTable, verdicts, writeReport, type FlowResult, type MemoryResult } from "./report.js";
import { summariseAll } from "./stats.js";

async function main(): Promise<void> {
  const parsed = readOptions();
  const dir = mkdtempSync(join(tmpdir(), "tokenver-bench-"));
  const servers: Server[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const log = (message: string) => process.stdout.write(`bench: ${message}\n`);
  const stopAll = async () => {
    await Promise.all(servers.map(stopServer));
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => log(`cleanup failed: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));

  try {
    const [load1] = loadavg();
    if (load1! > 1.5) log(`warning: load average ${load1!.toFixed(1)} before start: other work shares these cores, figures will be noisy`);
    const { engine, version } = detectEngine(parsed.load);
    log(
      `load generator: ${version}${engine === "wrk" ? " (1 thread)" : " (install wrk for a generator that is not the bottleneck)"}, ` +
        `${CONNECTIONS} connections; ${parsed.users.toLocaleString("en-US")} users, ${(2 * parsed.users).toLocaleString("en-US")} sessions, ` +
        `${parsed.tokens.toLocaleString("en-US")} distinct tokens, ${parsed.rounds} rounds x ${parsed.duration}s`,
    );
    const memory = await runJson<MemoryResult>(["--expose-gc", ...tsxArgs("bench/memory.ts")]).catch((error: Error) => {
      log(`memory measurement failed: ${error.message}`);
      return undefined;
    });
    const argon2Ms = await timeArgon2(await hashPassword(PASSWORD));
    const stormRate = parsed.stormRate ?? stormRateFor(argon2Ms);
    const options = { ...parsed, stormRate };
    log(
      `argon2id verify: ${argon2Ms.toFixed(1)} ms alone (median of ${ARGON2_SAMPLES}); storm rate ${stormRate}/s` +
        (parsed.stormRate === undefined ? ` (half of what ${ARGON2_THREADS} hashing thread(s) can do)` : ""),
    );
    // Seeded in today's form (NFKC marker): a pre-NFKC hash would send every storm login down the
    // legacy path, which verifies up to twice and rewrites the hash.
    const seedSpec = { users: options.users, passwordHash: await hashNewPassword(PASSWORD), expiresAt: Date.now() + 14 * 86_400_000 };
    const files = await seedSqliteFiles(dir, seedSpec, log);

    const sessions = sampleSessions(options.users, options.tokens);
    const load = new LoadGenerator();
    cleanups.push(async () => load.stop());
    const loadFiles = { tokensFile: join(dir, "tokens.json"), tokensText: join(dir, "tokens.txt"), emailsFile: join(dir, "emails.json") };
    writeLoadFiles(loadFiles, sessions);
    const work: Work = {
      dir,
      ...loadFiles,
      tokens: JSON.parse(readFileSync(loadFiles.tokensFile, "utf8")) as string[],
      stormRate,
      engine,
      load,
    };

    const { cases, skipped, redisTrustedAt, benchApp, ceiling } = await setUpCases({
      options,
      dir,
      sessions,
      files,
      seedSpec,
      servers,
      cleanups,
      log,
    });
    await probeCases(cases, mintTokens(sessions.slice(0, 1))[0]!);
    await warmUp(cases, options, work, redisTrustedAt, log);
    const { rounds, pairs, storms } = await measureRounds(cases, options, work, log);
    const flows = options.flows > 0 ? await measureFlows(benchApp, options.flows, work, log) : [];
    const peers = options.peers ? await runPeers({ dir, options, work, ceiling, log }) : undefined;

    const results = summariseAll(cases, rounds, storms, pairs);
    const machine = { argon2Ms, stormRate, cores: cpus().length, hashThreads: ARGON2_THREADS, load: version };
    printTable(results, skipped);
    const notes = verdicts(results, machine);
    printNotes(notes);
    printFlows(flows, machine);
    printMemory(memory);
    peers?.print();
    log(`load average now ${loadavg()[0]!.toFixed(2)} (at start ${load1!.toFixed(2)})`);
    if (options.out !== undefined) {
      writeReport(
        options.out,
        { options, results, skipped, notes, machine, loadAtStart: load1, flows, memory, peers: peers?.results },
        log,
      );
    }
  } finally {
    await stopAll();
  }
}

/** Registrations, logins and refreshes per second on the bench app, one after the other. */
async function measureFlows(server: Server, seconds: number, work: Work, log: (message: string) => void): Promise<FlowResult[]> {
  const flows: FlowResult[] = [];
  for (const kind of ["register", "login", "refresh"]) {
    const before = serversCpuMs([server]);
    // Enough workers to keep every hashing thread busy, few enough not to queue behind them.
    const workers = kind === "refresh" ? CONNECTIONS : 2 * ARGON2_THREADS + 2;
    const result = await runJson<Omit<FlowResult, "cpuMsPerOp">>(
      tsxArgs("bench/flows.ts", server.url, kind, String(seconds), String(workers), work.emailsFile, PASSWORD),
    ).catch((error: Error) => {
      log(`${kind}: ${error.message}`);
      return undefined;
    });
    const after = serversCpuMs([server]);
    if (result === undefined) continue;
    const cpuMsPerOp = before === undefined || after === undefined || result.ok === 0 ? undefined : (after - before) / result.ok;
    flows.push({ ...result, cpuMsPerOp });
    log(`${kind}: ${result.rate.toFixed(1)}/s`);
  }
  return flows;
}

if (!existsSync(join(ROOT, "node_modules/autocannon"))) {
  process.stderr.write("bench: autocannon is missing: run npm install\n");
  process.exit(1);
}
await main().catch((error) => {
  process.stderr.write(`bench: failed: ${(error as Error).message}\n`);
  process.exit(1);
});
