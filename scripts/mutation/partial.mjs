#!/usr/bin/env node
// What a chunk of `stryker.chunk.config.mjs` has found so far, from its event-recorder files
// (.tmp/mutation/events-<chunk>/*-onMutantTested.json), whether or not the run has ended:
//   node scripts/mutation/partial.mjs <chunk> [--survivors]
// Per file: killed (timeouts included), survived, no coverage, compile errors, tested of planned,
// and the score Stryker reports (killed / (killed + survived + no coverage)).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const chunk = process.argv[2];
if (chunk === undefined) {
  console.error("usage: node scripts/mutation/partial.mjs <chunk> [--survivors]");
  process.exit(2);
}
const dir = join(".tmp", "mutation", `events-${chunk}`);
const names = readdirSync(dir).sort();
const read = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));

const planned = new Map();
const plan = names.find((n) => n.endsWith("-onMutationTestingPlanReady.json"));
if (plan !== undefined) {
  for (const p of read(plan).mutantPlans) {
    const file = relative(process.cwd(), p.mutant.fileName);
    planned.set(file, (planned.get(file) ?? 0) + 1);
  }
}

const files = new Map();
const survivors = [];
for (const name of names.filter((n) => n.endsWith("-onMutantTested.json"))) {
  const m = read(name);
  const file = relative(process.cwd(), m.fileName);
  const row = files.get(file) ?? { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 };
  row[m.status] = (row[m.status] ?? 0) + 1;
  files.set(file, row);
  if (m.status === "Survived" || m.status === "NoCoverage") {
    survivors.push(
      `${file}:${m.location.start.line}:${m.location.start.column + 1} #${m.id} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement)}`,
    );
  }
}

const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad("file", 44)} killed surv nocov compile tested/planned score`);
const total = { killed: 0, survived: 0, noCoverage: 0 };
for (const [file, r] of [...files].sort()) {
  const killed = r.Killed + r.Timeout;
  const tested = Object.values(r).reduce((a, b) => a + b, 0);
  const valid = killed + r.Survived + r.NoCoverage;
  total.killed += killed;
  total.survived += r.Survived;
  total.noCoverage += r.NoCoverage;
  const score = valid === 0 ? "n/a" : `${((100 * killed) / valid).toFixed(1)} %`;
  console.log(
    `${pad(file, 44)} ${pad(`${killed}${r.Timeout ? ` (${r.Timeout}t)` : ""}`, 6)} ${pad(r.Survived, 4)} ${pad(r.NoCoverage, 5)} ${pad(r.CompileError, 7)} ${pad(`${tested}/${planned.get(file) ?? "?"}`, 14)} ${score}`,
  );
}
const valid = total.killed + total.survived + total.noCoverage;
console.log(
  `all: ${total.killed} killed, ${total.survived} survived, ${total.noCoverage} no coverage: ${valid ? ((100 * total.killed) / valid).toFixed(1) : "n/a"} %`,
);
if (process.argv.includes("--survivors")) for (const s of survivors.sort()) console.log(s);
