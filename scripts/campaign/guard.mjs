#!/usr/bin/env node
// Runs one command for the campaign and ties its life to the campaign's: when the campaign goes
// away, even killed with SIGKILL, its end of our stdin closes, and we kill the command (SIGCONT
// first, in case it is paused). The command's pid is the first line we write, so the campaign
// signals the command itself (kill -9, SIGSTOP); when the command exits, we exit with its status.
//
//   node scripts/campaign/guard.mjs <command> [args...]
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
process.stdout.write(`guard:pid ${child.pid}\n`);
child.stdout.pipe(process.stdout);
child.stderr.pipe(process.stderr);
const end = () => {
  try {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
};
process.stdin.on("end", end).on("close", end).on("error", end);
process.stdin.resume();
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, end);
child.on("exit", (code, signal) => {
  process.stdout.write(`guard:exit code=${code} signal=${signal}\n`);
  process.exit(code ?? 1);
});
child.on("error", (error) => {
  process.stderr.write(`guard: ${error.message}\n`);
  process.exit(1);
});
