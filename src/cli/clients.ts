import { Command } from "commander";
import { USAGE_EXIT_CODE, withAuth, type CliContext } from "./users.js";

const EXAMPLES = `
Examples:
  tokenver clients create billing-service   prints client_id and client_secret, once
  tokenver clients list
  tokenver clients delete <client_id>       its next introspection request is refused (401)

A service client calls POST /introspect with HTTP Basic (client_id:client_secret). Only an HMAC of
the secret is stored: a lost secret cannot be shown again; create another client and delete this one.
`;

/** `tokenver clients ...`: the service clients of introspection (docs/api.md section 7). */
export function clientsCommand(cli: CliContext): Command {
  const clients = new Command("clients")
    .summary("create, list or delete introspection clients")
    .description("Manage the service clients that may call POST /introspect.")
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .addHelpText("after", EXAMPLES);

  clients
    .command("create <name>")
    .description("Create a client; its secret (256 random bits) is printed once.")
    .action(async (name: string) => {
      await withAuth(cli, async (auth) => {
        const created = await auth.createClient(name, { actor: "cli" });
        return `created client ${JSON.stringify(created.name)}\nclient_id: ${created.clientId}\nclient_secret: ${created.clientSecret}\n(the secret is not stored and will not be shown again)`;
      });
    });

  clients
    .command("list")
    .description("Every client: id, name and creation date (never a secret).")
    .action(async () => {
      await withAuth(cli, async (auth) => {
        const rows = await auth.listClients();
        return `${rows.length} client${rows.length === 1 ? "" : "s"}\n${rows.map((c) => `${c.clientId}  ${c.name}  created ${c.createdAt}`).join("\n")}`;
      });
    });

  clients
    .command("delete <client_id>")
    .description("Delete a client: its requests are refused from now on.")
    .action(async (clientId: string) => {
      await withAuth(cli, async (auth) => {
        await auth.deleteClient(clientId, { actor: "cli" });
        return `deleted client ${clientId}`;
      });
    });
  return clients;
}
