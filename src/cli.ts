#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { ConfigError, configFromEnv, type ServerConfig } from "./settings/env.js";
import { DEFAULT_DATABASE_URL, envOfOption, SETTINGS, type AuthOptions, type Setting } from "./settings/table.js";
import { defaultOf, meaningOf } from "./settings/readme.js";
import { OptionError, resolveOptions } from "./settings/resolve.js";
import { usersCommand } from "./cli/users.js";
import { keysCommand } from "./cli/keys.js";
import { clientsCommand } from "./cli/clients.js";

/** One clear line naming the setting, then a non-zero exit. */
function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`tokenver: invalid configuration: ${error.message}\n`);
  } else if (error instanceof OptionError) {
    const setting = envOfOption(error.option) ?? error.option;
    process.stderr.write(`tokenver: invalid configuration: ${setting}: ${error.message.replace(`tokenver: ${error.option} `, "")}\n`);
  } else {
    const e = error as { name?: string; code?: string } | null;
    process.stderr.write(`tokenver: failed: ${e?.name ?? "Error"}${e?.code ? ` (${e.code})` : ""}\n`);
  }
  process.exit(1);
}

/**
 * The settings, checked in full before the server's modules load (a mistake costs no start-up);
 * createAuth() checks the options again, and what only a connection can tell (is the database there).
 */
function loadConfig(overrides: AuthOptions = {}): ServerConfig {
  try {
    const config = configFromEnv(process.env);
    const auth = { ...config.auth, ...overrides };
    resolveOptions(auth);
    return { ...config, auth };
  } catch (error) {
    fail(error);
  }
}

async function serve(): Promise<void> {
  const loaded = loadConfig();
  // docs/api.md section 1: the public URL defaults to this server's own address.
  const config = { ...loaded, auth: { ...loaded.auth, publicUrl: loaded.auth.publicUrl ?? `http://127.0.0.1:${loaded.port}` } };
  const [{ createAuth }, { buildServer, drainServer }] = await Promise.all([import("./create-auth.js"), import("./server.js")]);
  // Warnings raised while starting (a generated secret) wait for the server's logger.
  let warn: ((message: string) => void) | undefined;
  const pending: string[] = [];
  const onWarning = (message: string) => (warn === undefined ? pending.push(message) : warn(message));
  const metrics = config.metricsPort !== undefined;
  const auth = await createAuth({ ...config.auth, metrics, onWarning }).catch(fail);
  const { trustProxy, requestTimeout, keepAliveTimeout, maxConnections } = config;
  const serverOptions = { trustProxy, requestTimeout, keepAliveTimeout, maxConnections };
  // JSON lines for log collectors; readable lines for a person at a terminal. Written synchronously:
  // a line is never lost at exit, and a stalled log consumer slows the server rather than filling
  // its memory (an asynchronous destination saved about 3 µs a request: docs/benchmark.md).
  const logger = { level: config.logLevel, ...(process.stdout.isTTY ? { transport: { target: "pino-pretty" } } : {}) };
  const app = await buildServer(auth, { logger, ...serverOptions }).catch(async (error) => {
    await auth.close().catch(() => {});
    return fail(error);
  });
  warn = (message) => app.log.warn(message);
  for (const message of pending.splice(0)) warn(message);

  let metricsServer: import("node:http").Server | undefined;
  let closing = false;
  // docs/api.md section 10: stop accepting, /health 503, finish what is in flight (up to the
  // timeout), close the stores; exit 0, or 1 when the timeout cut a request off.
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal, timeout: config.shutdownTimeout }, "shutting down: draining requests in flight");
    const { cutOff } = await drainServer(app, config.shutdownTimeout * 1000);
    if (cutOff > 0) app.log.error({ cutOff }, "shutdown timeout: requests in flight were cut off");
    metricsServer?.closeAllConnections();
    metricsServer?.close();
    await app.close().catch(() => {});
    await auth.close().catch(() => {});
    app.log.info({ exitCode: cutOff > 0 ? 1 : 0 }, "stopped");
    process.exit(cutOff > 0 ? 1 : 0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  const cannotListen = async (what: string, host: string, port: number, error: unknown): Promise<never> => {
    await app.close().catch(() => {});
    await auth.close().catch(() => {});
    const code = (error as { code?: string }).code;
    process.stderr.write(`tokenver: invalid configuration: ${what}: cannot listen on ${host}:${port}${code ? ` (${code})` : ""}\n`);
    process.exit(1);
  };
  if (auth.metrics !== undefined) {
    const { listenMetrics } = await import("./metrics/server.js");
    const { metricsHost, metricsPort } = config as { metricsHost: string; metricsPort: number };
    metricsServer = await listenMetrics(auth.metrics, metricsPort, metricsHost).catch((error) =>
      cannotListen("TOKENVER_METRICS_PORT/TOKENVER_METRICS_HOST", metricsHost, metricsPort, error),
    );
    const address = metricsServer.address() as import("node:net").AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    app.log.info(`Metrics listening at http://${host}:${address.port}/metrics`);
  }
  await app.listen({ port: config.port, host: config.host }).catch((error) => cannotListen("PORT/HOST", config.host, config.port, error));
}

async function migrate(): Promise<void> {
  // Revokes nothing, so it may run beside a server on the same SQLite file.
  const config = loadConfig({ migrate: true, sqliteLock: false, pruneInterval: 0 });
  const { createAuth } = await import("./create-auth.js");
  const auth = await createAuth(config.auth).catch(fail);
  await auth.close();
  process.stdout.write("tokenver: migrations applied\n");
}

async function prune(): Promise<void> {
  const config = loadConfig({ sqliteLock: false, pruneInterval: 0 });
  const { createAuth } = await import("./create-auth.js");
  const auth = await createAuth(config.auth).catch(fail);
  const removed = await auth.prune().catch(fail);
  await auth.close();
  process.stdout.write(
    `tokenver: pruned ${removed.sessions} sessions, ${removed.refreshTokens} refresh tokens and ${removed.events} security events; ` +
      `${removed.links} expired links and ${removed.unverifiedUsers} unverified accounts\n`,
  );
}

/** The environment variables, one a line, from the settings table (Markdown's backticks dropped). */
function environmentHelp(): string {
  const rows = (SETTINGS as readonly Setting[]).filter((s) => s.env !== undefined);
  const width = Math.max(...rows.map((s) => s.env!.length)) + 2;
  const plain = (text: string) => text.replaceAll("`", "");
  return rows.map((s) => `  ${s.env!.padEnd(width)}${plain(meaningOf(s))}; default ${plain(defaultOf(s))}`).join("\n");
}

const SEE_README = "Every setting, its default and its range: docs/configuration.md (shipped in the package).";
const OTHER_SETTINGS = `The other variables listed by \`tokenver --help\` are checked as \`serve\` checks them.\n${SEE_README}`;

const DEFAULTS = configFromEnv({});

// package.json sits one level up from both src/cli.ts and dist/cli.js.
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
const program = new Command("tokenver")
  .description(
    "JWT authentication where logout means logout: an HTTP auth server (register, login, refresh, logout) " +
      "over SQLite or PostgreSQL, configured by environment variables. Start with `tokenver serve`: " +
      `with no settings it serves http://${DEFAULTS.host}:${DEFAULTS.port} over ${DEFAULT_DATABASE_URL}.`,
  )
  .version(version)
  .addHelpText(
    "after",
    `\nEnvironment (an invalid value stops a command with one line naming the variable):\n${environmentHelp()}\n\n${SEE_README}\n`,
  );
program
  .command("serve")
  .summary("start the HTTP server (what `npm start` runs)")
  .description(
    "Start the HTTP server on HOST:PORT; it runs until SIGTERM or SIGINT. It keeps its data in " +
      "TOKENVER_DATABASE_URL and applies pending migrations on start. Set TOKENVER_SECRET in production " +
      "(without it a secret is generated once and stored in the database); several nodes share TOKENVER_REDIS_URL.",
  )
  .addHelpText("after", `\nEvery variable listed by \`tokenver --help\` applies.\n${SEE_README}\n`)
  .action(serve);
program
  .command("migrate")
  .summary("apply database migrations and exit")
  .description(
    "Apply pending database migrations to TOKENVER_DATABASE_URL and exit. Safe beside a running server on " +
      "the same SQLite file. `serve` migrates on start too; this is for deploy steps that migrate first.",
  )
  .addHelpText("after", `\n${OTHER_SETTINGS}\n`)
  .action(migrate);
program
  .command("prune")
  .summary("delete expired sessions and refresh tokens, then exit")
  .description(
    "Delete expired sessions and refresh tokens from TOKENVER_DATABASE_URL, print how many, and exit. " +
      "Safe beside a running server. `serve` also prunes every TOKENVER_PRUNE_INTERVAL seconds.",
  )
  .addHelpText("after", `\n${OTHER_SETTINGS}\n`)
  .action(prune);
program.addCommand(usersCommand({ loadConfig, fail }));
program.addCommand(keysCommand({ loadConfig, fail }));
program.addCommand(clientsCommand({ loadConfig, fail }));
await program.parseAsync(process.argv);
