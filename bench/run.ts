/**
 * `npm run bench`: how much does the revocation check cost? Starts every server as its own
 * process, drives each from another process (bench/load.ts, autocannon), several short rounds in
 * turns (A B C A B C ...) so drift cancels, and reports medians and the ratio to the limit.
 * See docs/benchmark.md.
 *
 * This file wires the steps together: options.ts (the command line), data.ts (seeded databases,
 * tokens), cases.ts (the cases and their servers), measure.ts (warm-up and rounds), stats.ts
 * (medians and ratios), report.ts (table, verdicts, --out files); processes.ts and services.ts
 * start and stop what a run needs.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { hashPassword } from "../src/core/passwords/hashing.js";
import { setUpCases } from "./cases.js";
import { CONNECTIONS, PASSWORD, ROOT } from "./constants.js";
import { mintTokens, sampleSessions, seedSqliteFiles, writeLoadFiles } from "./data.js";
import { ARGON2_SAMPLES, measureRounds, probeCases, timeArgon2, warmUp, type Work } from "./measure.js";
import { readOptions } from "./options.js";
import { LoadGenerator, stopServer, type Server } from "./processes.js";
import { printNotes, printTable, verdicts, writeReport } from "./report.js";
import { summariseAll } from "./stats.js";

async function main(): Promise<void> {
  const options = readOptions();
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
    log(
      `${options.users.toLocaleString("en-US")} users, ${(2 * options.users).toLocaleString("en-US")} sessions, ${options.tokens.toLocaleString("en-US")} distinct tokens, ` +
        `${options.rounds} rounds x ${options.duration}s, ${CONNECTIONS} connections`,
    );
    const passwordHash = await hashPassword(PASSWORD);
    const argon2Ms = await timeArgon2(passwordHash);
    log(`argon2id verify: ${argon2Ms.toFixed(1)} ms alone (median of ${ARGON2_SAMPLES})`);
    const seedSpec = { users: options.users, passwordHash, expiresAt: Date.now() + 14 * 86_400_000 };
    const files = await seedSqliteFiles(dir, seedSpec, log);

    const sessions = sampleSessions(options.users, options.tokens);
    const load = new LoadGenerator();
    cleanups.push(async () => load.stop());
    const work: Work = {
      dir,
      tokensFile: join(dir, "tokens.json"),
      emailsFile: join(dir, "emails.json"),
      stormRate: options.stormRate,
      load,
    };
    writeLoadFiles(work, sessions);

    const { cases, skipped, redisTrustedAt } = await setUpCases({ options, files, seedSpec, servers, cleanups, log });
    await probeCases(cases, mintTokens(sessions.slice(0, 1))[0]!);
    await warmUp(cases, options, work, redisTrustedAt, log);
    const { rounds, storms } = await measureRounds(cases, options, work, log);

    const results = summariseAll(cases, rounds, storms);
    printTable(results, skipped);
    const notes = verdicts(results, { argon2Ms, stormRate: options.stormRate, cores: cpus().length });
    printNotes(notes);
    if (options.out !== undefined) writeReport(options.out, { options, results, skipped, notes, argon2Ms, loadAtStart: load1 }, log);
  } finally {
    await stopAll();
  }
}

if (!existsSync(join(ROOT, "node_modules/autocannon"))) {
  process.stderr.write("bench: autocannon is missing: run npm install\n");
  process.exit(1);
}
await main().catch((error) => {
  process.stderr.write(`bench: failed: ${(error as Error).message}\n`);
  process.exit(1);
});
