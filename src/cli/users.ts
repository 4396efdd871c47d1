import { Command } from "commander";
import type { Auth } from "../core/auth.js";
import { AuthError } from "../core/errors.js";
import type { ServerConfig } from "../settings/env.js";
import type { AuthOptions } from "../settings/table.js";
import { PasswordInputError, readPassword } from "./password-input.js";

/** What the commands need from the CLI's entry (src/cli.ts). */
export interface CliContext {
  /** The settings from the environment, checked as `serve` checks them (exits with one line otherwise). */
  loadConfig(overrides?: AuthOptions): ServerConfig;
  /** One line naming the problem on standard error, then exit 1. */
  fail(error: unknown): never;
}

/** Exit codes of `tokenver users`: 0 done, 1 failed (one line on standard error), 2 a usage error. */
export const USAGE_EXIT_CODE = 2;

const EXAMPLES = `
Examples:
  tokenver users create ops@example.com --admin    asks for the password twice (nothing echoes)
  printf '%s\\n' "$PASSWORD" | tokenver users create ann@example.com
  tokenver users disable ann@example.com           every token of ann dies now; sign-in refused
  tokenver users enable ann@example.com
  tokenver users logout ann@example.com            every token dies; ann may sign in again
  tokenver users promote ann@example.com

Each command acts on TOKENVER_DATABASE_URL (and TOKENVER_REDIS_URL) as \`serve\` would, and may run
while servers are serving it, SQLite included: when a command that revokes has exited, every
running server refuses what it revoked. Exit codes: 0 done, 1 failed (one line on standard
error), 2 usage error.
`;

/**
 * `tokenver users ...`: the operator's commands on accounts (docs/api.md section 10), each a call
 * of the server-side user API with actor "cli".
 */
export function usersCommand(cli: CliContext): Command {
  const users = new Command("users")
    .summary("create accounts, make admins, disable, enable or log out users")
    .description("Act on user accounts from the command line, beside running servers.")
    .exitOverride((error) => {
      if (error.exitCode === 0) process.exit(0);
      process.exit(USAGE_EXIT_CODE);
    })
    .addHelpText("after", EXAMPLES);

  users
    .command("create <email>")
    .description("Create an account. The password is asked at a prompt that does not echo, or read from the first line of standard input.")
    .option("--admin", "make the account an administrator")
    .option("--username <name>", "its display name")
    .action(async (email: string, options: { admin?: boolean; username?: string }) => {
      const password = await readPassword("Password: ").catch((error: unknown) => failWith(cli, error));
      await withAuth(cli, async (auth) => {
        const user = await auth.createUser(
          { email, password, username: options.username ?? null, role: options.admin ? "admin" : "user" },
          { actor: "cli" },
        );
        return `created ${user.email} (id ${user.id}, ${user.role})`;
      });
    });

  const actions: Array<[string, string, (auth: Auth<any>, id: string) => Promise<void>, string]> = [
    ["promote", "Make the user an administrator.", (auth, id) => auth.setRole(id, "admin", { actor: "cli" }), "is now an admin"],
    [
      "demote",
      "Make an administrator an ordinary user (never the last enabled admin).",
      (auth, id) => auth.setRole(id, "user", { actor: "cli" }),
      "is now a user",
    ],
    [
      "disable",
      "Disable the account: every token dies on every server, sign-in and refresh are refused until enabled.",
      (auth, id) => auth.disableUser(id, { actor: "cli" }),
      "is disabled; every session revoked",
    ],
    ["enable", "Enable a disabled account: the user may sign in again.", (auth, id) => auth.enableUser(id, { actor: "cli" }), "is enabled"],
    [
      "logout",
      "Log the user out everywhere: every token dies on every server; they may sign in again.",
      (auth, id) => auth.logoutUser(id, { actor: "cli" }),
      "is logged out everywhere",
    ],
  ];
  for (const [name, description, act, done] of actions) {
    users
      .command(`${name} <email>`)
      .description(description)
      .action(async (email: string) => {
        await withAuth(cli, async (auth) => {
          const user = await auth.findUserByEmail(email);
          if (user === null) throw new AuthError("not_found", `no user with the email ${JSON.stringify(email.trim())}`);
          await act(auth, user.id);
          return `${user.email} ${done}`;
        });
      });
  }
  return users;
}

/**
 * Opens the service as a process beside the server: no file lock, no cache, no periodic prune;
 * its revocations wait until running servers will see them (store/revocation/external-writes.ts).
 */
export async function withAuth(cli: CliContext, run: (auth: Auth<any>) => Promise<string>): Promise<void> {
  const config = cli.loadConfig({ sqliteLock: false, pruneInterval: 0, localCache: false });
  const { createAuth } = await import("../create-auth.js");
  const auth = await createAuth(config.auth).catch((error: unknown) => cli.fail(error));
  let message: string;
  try {
    message = await run(auth);
  } catch (error) {
    await auth.close().catch(() => {});
    failWith(cli, error);
  }
  await auth.close();
  process.stdout.write(`tokenver: ${message}\n`);
}

/** An account error as one line (exit 1); anything else as the CLI reports it. */
function failWith(cli: CliContext, error: unknown): never {
  if (error instanceof PasswordInputError) return exit(error.message);
  if (error instanceof AuthError) {
    if (error.code === "validation_failed") return exit((error.errors ?? []).map((e) => `${e.field} ${e.message}`).join("; "));
    if (error.code === "email_taken") return exit("an account with this email already exists");
    if (error.code === "forbidden") return exit(`refused: ${error.message.replace(/\.$/, "")}`);
    if (error.code === "service_unavailable") return exit("a store did not answer (TOKENVER_DATABASE_URL, TOKENVER_REDIS_URL)");
    return exit(error.message);
  }
  return cli.fail(error);
}

function exit(message: string): never {
  process.stderr.write(`tokenver: ${message}\n`);
  process.exit(1);
}
