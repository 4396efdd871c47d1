import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import { KEYS_SETTLE_MS } from "../core/keys/key-ring.js";
import { USAGE_EXIT_CODE, withAuth, type CliContext } from "./users.js";

const EXAMPLES = `
Examples:
  tokenver keys list                 id, algorithm, state (next, current, retiring) and dates
  tokenver keys rotate               publish a new key now; it signs after TOKENVER_KEY_PUBLISH_DELAY
  tokenver keys rotate --now         a compromised key: the new key signs at once
  tokenver keys revoke <kid>         the key goes at once: its tokens are refused (clients refresh)

Each command acts on TOKENVER_DATABASE_URL as \`serve\` would (TOKENVER_SECRET must be the servers'),
and may run while servers are serving it, SQLite included: when it has exited, every running
server uses the keys it left. Exit codes: 0 done, 1 failed, 2 usage error.
`;

/** `tokenver keys ...`: signing keys (docs/api.md section 7; docs/keys.md). */
export function keysCommand(cli: CliContext): Command {
  const keys = new Command("keys")
    .summary("list, rotate or revoke the signing keys")
    .description("Manage the keys that sign access tokens, beside running servers.")
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .addHelpText("after", EXAMPLES);

  keys
    .command("list")
    .description("Every key that signs, will sign or still verifies (nothing secret).")
    .action(async () => {
      await withAuth(cli, async (auth) => {
        const rows = await auth.listKeys();
        const lines = rows.map((k) =>
          [k.kid, k.alg, k.state, `created ${k.createdAt}`, `signs from ${k.activateAt}`, `retires ${k.retireAfter ?? "-"}`].join("  "),
        );
        return `${rows.length} key${rows.length === 1 ? "" : "s"}\n${lines.join("\n")}`;
      });
    });

  keys
    .command("rotate")
    .description("Add a key of TOKENVER_SIGNING_ALG: published in the JWKS at once, signing after TOKENVER_KEY_PUBLISH_DELAY.")
    .option("--now", "sign with it at once (a compromised key); keys waiting to sign are dropped")
    .action(async (options: { now?: boolean }) => {
      await withAuth(cli, async (auth) => {
        const rotated = await auth.rotateKey({ now: options.now === true, actor: "cli" });
        // Every server polls the keys every second: once this has exited, they all know the key.
        await sleep(KEYS_SETTLE_MS);
        return `published ${rotated.kid} (${rotated.alg}); it signs from ${rotated.activateAt}`;
      });
    });

  keys
    .command("revoke <kid>")
    .description("Remove a key at once: tokens it signed are refused (token_invalid) by every server.")
    // A kid is base64url (a random one, or an RFC 7638 thumbprint): 1 in 64 begins with "-", which
    // would otherwise be read as an unknown option. This command has no options of its own.
    .allowUnknownOption()
    .action(async (kid: string) => {
      await withAuth(cli, async (auth) => {
        const { signer } = await auth.revokeKey(kid, { actor: "cli" });
        await sleep(KEYS_SETTLE_MS);
        return `revoked ${kid}; ${signer} signs`;
      });
    });
  return keys;
}
