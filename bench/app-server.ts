/**
 * A tiny application that embeds tokenver: the real server (buildServer: the tokenver Fastify
 * plugin, its routes, default deny) plus a protected `GET /notes` route that returns a constant,
 * so a request costs exactly the verify + revocation check and nothing of the app's own.
 * Used when examples/fastify-notes is absent, and always for the limit comparison.
 *
 * Env: the variables of `tokenver serve` (docs/api.md section 1), and TOKENVER_BENCH_ELD=1 for the
 * bench-only public route `GET /bench/event-loop[?reset]`: the main thread's event-loop delay
 * (perf_hooks.monitorEventLoopDelay, 1 ms sampling) since the last reset, in ms, and the CPU time
 * the process (all its threads, argon2's included) and its main thread have used, in ms.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createAuth } from "../src/create-auth.js";
import { buildServer } from "../src/server.js";
import { configFromEnv } from "../src/settings/env.js";
import { NOTES } from "./notes-constant.js";

const config = configFromEnv(process.env);
const auth = await createAuth(config.auth);
const { trustProxy, requestTimeout, keepAliveTimeout, maxConnections } = config;
const app = await buildServer(auth, { logger: false, trustProxy, requestTimeout, keepAliveTimeout, maxConnections });
app.get("/notes", async () => NOTES);
if (process.env.TOKENVER_BENCH_ELD === "1") {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  app.get("/bench/event-loop", { config: { public: true } }, async (request) => {
    const ms = (ns: number) => ns / 1e6;
    const usage = process.resourceUsage();
    const answer = {
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
      samples: delay.count,
      processCpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      mainThreadCpuMs: threadCpuMs(),
    };
    if (Object.hasOwn(request.query as object, "reset")) delay.reset();
    return answer;
  });
}
await app.listen({ port: config.port, host: config.host });

const stop = async () => {
  await app.close().catch(() => {});
  await auth.close().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

/** CPU time of the main thread alone (Linux: /proc/thread-self/stat), ms; undefined elsewhere. */
function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/thread-self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}
