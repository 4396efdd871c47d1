/**
 * What argon2id hashing does to a process's event loop, without a server: the main thread runs
 * nothing but the delay monitor (1 ms sampling) while argon2id verifications run at a fixed rate,
 * one at a time, either on this process's libuv thread pool (as tokenver hashes) or in another
 * process (bench/hash-load.ts), or not at all. Each mode runs `--runs` times; the spread matters.
 *
 * Usage: node --import tsx bench/micro/hashing-delay.ts [--rate N] [--seconds S] [--runs N] [--nice N]
 * `--nice N`: the in-process mode also sets every thread but the main one to that priority (Linux;
 * root for a negative N), to see whether the main thread waits for a core or for something else.
 * Prints the delay beyond the 1 ms period, p50 / p99 / max in ms, per run.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { hashPassword, verifyPassword } from "../../src/core/passwords/hashing.js";
import { tsxArgs } from "../processes.js";

const { values } = parseArgs({
  options: { rate: { type: "string" }, seconds: { type: "string" }, runs: { type: "string" }, nice: { type: "string" } },
});
const rate = Number(values.rate ?? 50);
const seconds = Number(values.seconds ?? 8);
const runs = Number(values.runs ?? 3);
const nice = values.nice === undefined ? undefined : Number(values.nice);
const hash = await hashPassword("bench-hashing-delay");

async function measure(mode: "none" | "in-process" | "other-process"): Promise<string> {
  let stop = false;
  let child: ReturnType<typeof spawn> | undefined;
  let hashing: Promise<void> = Promise.resolve();
  if (mode === "in-process") {
    if (nice !== undefined) {
      for (const thread of readdirSync("/proc/self/task")) if (Number(thread) !== process.pid) setPriority(Number(thread), nice);
    }
    hashing = (async () => {
      const started = performance.now();
      for (let i = 0; !stop; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await verifyPassword(hash, "bench-hashing-delay");
      }
    })();
  } else if (mode === "other-process") {
    child = spawn(process.execPath, tsxArgs("bench/hash-load.ts", String(rate), String(seconds + 2)), { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  delay.disable();
  stop = true;
  await hashing;
  child?.kill();
  // The histogram holds the time between two callbacks: the delay is what exceeds the 1 ms period.
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);
  return `${ms(delay.percentile(50))} / ${ms(delay.percentile(99))} / ${ms(delay.max)}`;
}

process.stdout.write(`argon2id verify at ${rate}/s, ${seconds} s a run; event-loop delay p50 / p99 / max, ms\n`);
for (const mode of ["none", "other-process", "in-process"] as const) {
  const figures: string[] = [];
  for (let i = 0; i < runs; i++) figures.push(await measure(mode));
  process.stdout.write(`${mode.padEnd(14)} ${figures.join("   ")}\n`);
}
