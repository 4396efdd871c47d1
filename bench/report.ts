/**
 * What a run reports: the table of medians, the verdicts against the targets of the benchmark
 * issue, and with --out the results.json and chart.svg of the run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Skipped } from "./cases.js";
import { renderChart } from "./chart.js";
import { CONNECTIONS } from "./constants.js";
import type { Options } from "./options.js";
import { median, type CaseResult } from "./stats.js";

export function printTable(results: CaseResult[], skipped: Skipped[]): void {
  const rows = [
    ["case", "req/s", "p50 ms", "p99 ms", "errors", "vs limit", "CPU µs/req", "vs limit by CPU"],
    ...results.map((r) => [
      r.label,
      Math.round(r.rps).toLocaleString("en-US"),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      String(r.errors),
      r.ratio.toFixed(2),
      r.cpuUsPerRequest === undefined ? "-" : r.cpuUsPerRequest.toFixed(1),
      r.cpuRatio === undefined ? "-" : r.cpuRatio.toFixed(2),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  for (const s of skipped) process.stdout.write(`${s.label.padEnd(widths[0]!)}  skipped: ${s.reason}\n`);
}

export function verdicts(results: CaseResult[], machine: { argon2Ms: number; stormRate: number; cores: number }): string[] {
  const by = new Map(results.map((r) => [r.id, r]));
  const lines: string[] = [];
  const hello = by.get("hello");
  const limit = by.get("limit");
  if (hello && limit && hello.rps < 1.1 * limit.rps) {
    lines.push(
      `NOTE  hello is only ${(hello.rps / limit.rps).toFixed(2)}x the limit in req/s: the load generator or other work on these cores, ` +
        "not the server, set the pace; read the CPU-per-request ratios",
    );
  }
  const target = (id: string, min: number) => {
    const r = by.get(id);
    if (!r) return;
    const cpu = r.cpuRatio === undefined ? "" : `, ${r.cpuRatio.toFixed(2)} by server CPU per request`;
    const pass = r.ratio >= min && (r.cpuRatio === undefined || r.cpuRatio >= min);
    lines.push(`${pass ? "PASS" : "MISS"}  ${r.label}: ${r.ratio.toFixed(2)} of the limit in req/s${cpu} (target >= ${min.toFixed(2)})`);
  };
  target("sqlite-notes", 0.9);
  target("sqlite-bench", 0.9);
  target("pgredis-1", 0.8);
  target("pgredis-2", 0.8);
  for (const r of results) {
    if (r.id !== "hello" && r.id !== "limit" && r.id !== "sqlite-notes-storm") {
      lines.push(`${r.p99 < 5 ? "PASS" : "MISS"}  ${r.label}: p99 ${r.p99.toFixed(2)} ms (target < 5 ms)`);
    }
  }
  const calm = by.get("sqlite-notes");
  const storm = by.get("sqlite-notes-storm");
  if (calm && storm) {
    const factor = storm.p99 / Math.max(calm.p99, 0.01);
    const logins = storm.storms.reduce((n, s) => n + s.ok, 0);
    const attempted = storm.storms.reduce((n, s) => n + s.attempted, 0);
    // A storm whose logins failed (throttled, refused) cost the route nothing: no verdict from it.
    const verdict = logins < 0.95 * attempted ? "VOID" : factor < 2 ? "PASS" : "MISS";
    lines.push(
      `${verdict}  login storm: protected-route p99 ${calm.p99.toFixed(2)} -> ${storm.p99.toFixed(2)} ms, x${factor.toFixed(2)} (target < x2)`,
    );
    // Logins must keep up too: a storm that is cheap for the route because logins starve is no pass.
    const rate = median(storm.storms.map((s) => s.ok / s.seconds));
    const [p50, p99] = [median(storm.storms.map((s) => s.p50)), median(storm.storms.map((s) => s.p99))];
    lines.push(
      `      storm logins: ${logins} of ${attempted} succeeded, ${rate.toFixed(1)}/s, latency p50 ${p50} ms, p99 ${p99} ms (medians of rounds)`,
    );
    // The storm's CPU comes out of the cores that run the route and the load generator: say how much.
    const demand = (machine.stormRate * machine.argon2Ms) / 1000;
    lines.push(
      `      argon2id alone: ${machine.argon2Ms.toFixed(1)} ms per login, so ${machine.stormRate} logins/s need ${demand.toFixed(2)} ` +
        `of ${machine.cores} cores (${Math.round((100 * demand) / machine.cores)}%) beside the server and the load generator`,
    );
  }
  return lines;
}

/** The verdicts, then how to read the table. */
export function printNotes(notes: string[]): void {
  process.stdout.write(`\n${notes.join("\n")}\n`);
  process.stdout.write(
    "\n2a is the pure verify + revocation cost (the principal only); 2b adds the user-row read that\n" +
      "GET /profile does to return the user. Ratios are to case 1 on the same machine in the same run.\n",
  );
}

/** --out: results.json (everything measured, and how) and chart.svg. */
export function writeReport(
  dir: string,
  run: { options: Options; results: CaseResult[]; skipped: Skipped[]; notes: string[]; argon2Ms: number; loadAtStart: number | undefined },
  log: (message: string) => void,
): void {
  const { options, results, skipped, notes, argon2Ms, loadAtStart } = run;
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      argon2VerifyMs: argon2Ms,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg()[0],
    },
    options: { ...options, pg: undefined, redis: undefined },
    connections: CONNECTIONS,
    results,
    skipped,
    verdicts: notes,
  };
  writeFileSync(join(out, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(out, "chart.svg"),
    renderChart(results, `${options.users.toLocaleString("en-US")} users, ${CONNECTIONS} connections, medians of ${options.rounds} rounds`),
  );
  log(`wrote ${join(out, "results.json")} and ${join(out, "chart.svg")}`);
}
