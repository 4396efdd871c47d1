#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { configFromEnv, ConfigError, ENV_OF_OPTION, type ServerConfig } from "./config.js";
import { createAuth } from "./create-auth.js";
import { OptionError } from "./settings.js";
import { buildServer } from "./server.js";

/** One clear line naming the setting, then a non-zero exit. */
function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`tokenver: invalid configuration: ${error.message}\n`);
  } else if (error instanceof OptionError) {
    const setting = ENV_OF_OPTION[error.option] ?? error.option;
    process.stderr.write(`tokenver: invalid configuration: ${setting}: ${error.message.replace(`tokenver: ${error.option} `, "")}\n`);
  } else {
    const e = error as { name?: string; code?: string } | null;
    process.stderr.write(`tokenver: failed: ${e?.name ?? "Error"}${e?.code ? ` (${e.code})` : ""}\n`);
  }
  process.exit(1);
}

function loadConfig(): ServerConfig {
  try {
    return configFromEnv(process.env);
  } catch (error) {
    fail(error);
  }
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const warnings: string[] = [];
  const auth = await createAuth({ ...config.auth, onWarning: (m) => warnings.push(m) }).catch(fail);
  const app = await buildServer(auth, { logger: { level: config.logLevel } });
  auth.options.onWarning = (m) => app.log.warn(m);
  for (const w of warnings) app.log.warn(w);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    await app.close().catch(() => {});
    await auth.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await auth.close().catch(() => {});
    const code = (error as { code?: string }).code;
    process.stderr.write(
      `tokenver: invalid configuration: PORT/HOST: cannot listen on ${config.host}:${config.port}${code ? ` (${code})` : ""}\n`,
    );
    process.exit(1);
  }
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  // Revokes nothing, so it may run beside a server on the same SQLite file.
  const auth = await createAuth({ ...config.auth, migrate: true, sqliteLock: false, pruneInterval: 0 }).catch(fail);
  await auth.close();
  process.stdout.write("tokenver: migrations applied\n");
}

async function prune(): Promise<void> {
  const config = loadConfig();
  const auth = await createAuth({ ...config.auth, sqliteLock: false, pruneInterval: 0 }).catch(fail);
  const removed = await auth.prune().catch(fail);
  await auth.close();
  process.stdout.write(`tokenver: pruned ${removed.sessions} sessions and ${removed.refreshTokens} refresh tokens\n`);
}

// package.json sits one level up from both src/cli.ts and dist/cli.js.
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
const program = new Command("tokenver").description("JWT authentication where logout means logout").version(version);
program.command("serve").description("start the HTTP server (configured by the environment)").action(serve);
program.command("migrate").description("apply database migrations and exit").action(migrate);
program.command("prune").description("delete expired sessions and refresh tokens, then exit").action(prune);
await program.parseAsync(process.argv);
