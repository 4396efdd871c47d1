/**
 * What recording a security event costs (docs/operations.md, "Events and webhooks"): on the
 * request's path, building the row and queueing it (`eventRow` + `EventRecorder.record`, CPU µs per
 * event); off the path, the batched write (events per second into SQLite, and PostgreSQL when it
 * answers). A script that prints figures, never a timed assertion.
 *
 * Usage: node --import tsx bench/micro/events.ts [--pg URL] [--events N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { eventRow } from "../../src/core/events/record.js";
import { EventRecorder } from "../../src/core/events/recorder.js";
import { openStore } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { reachablePostgres, withAdmin } from "../services.js";
import { median } from "../stats.js";

const { values } = parseArgs({ options: { pg: { type: "string" }, events: { type: "string" } } });
const N = Number(values.events ?? 20_000);
const pgUrl = values.pg ?? process.env.TOKENVER_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const input = (i: number) => ({
  type: "login.succeeded" as const,
  userId: "7f0c2a4e-9d1b-4c1e-8f7a-2b5d6e9a1c3f",
  sessionId: `s-${i}`,
  actor: "self",
  client: { ip: "203.0.113.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" },
  detail: { amr: "pwd" },
});

async function measure(name: string, url: string): Promise<void> {
  const store = await openStore(url);
  try {
    await migrateToLatest(store.db);
    const recorder = new EventRecorder(store.db, { onWarning: () => {} });
    const onPath: number[] = [];
    for (let round = 0; round < 5; round++) {
      const started = process.cpuUsage();
      for (let i = 0; i < N; i++) recorder.record(eventRow(input(i), Date.now()));
      const used = process.cpuUsage(started);
      onPath.push((used.user + used.system) / N);
      const wall = performance.now();
      await recorder.flush();
      if (round === 4) {
        const seconds = (performance.now() - wall) / 1000;
        console.log(
          `${name}: on the request's path ${median(onPath).toFixed(2)} µs CPU per event; written ${Math.round(N / seconds)} events/s in batches of 500`,
        );
      }
    }
    const stats = recorder.stats();
    if (stats.failed > 0 || stats.dropped > 0) console.log(`${name}: ${stats.failed} failed, ${stats.dropped} dropped (queue limit)`);
  } finally {
    await store.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "tokenver-events-bench-"));
try {
  await measure("sqlite", `sqlite:${join(dir, "events.db")}`);
  const pgProblem = await reachablePostgres(pgUrl);
  if (pgProblem !== undefined) console.log(`postgres: skipped (${pgProblem})`);
  else {
    const name = `tokenver_events_bench_${process.pid}`;
    await withAdmin(pgUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    try {
      const url = new URL(pgUrl);
      url.pathname = `/${name}`;
      await measure("postgres", url.href);
    } finally {
      await withAdmin(pgUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
