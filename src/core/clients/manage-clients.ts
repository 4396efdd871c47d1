import { deleteClientRow, listClientRows } from "../../store/queries/clients.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { ActorOptions } from "../users/actor.js";
import { isStorableId } from "../validation.js";

export interface ClientInfo {
  clientId: string;
  name: string;
  createdAt: string;
}

/** `tokenver clients list`: id, name and creation date (never a secret or its hash). */
export async function listClients(core: Core): Promise<ClientInfo[]> {
  const rows = await failClosed(() => listClientRows(core.db));
  return rows.map((r) => ({ clientId: r.id, name: r.name, createdAt: r.created_at }));
}

/** `tokenver clients delete <id>`: its next request is `401 invalid_client`. `not_found` for an unknown id. */
export async function deleteClient(core: Core, clientId: string, options: ActorOptions = {}): Promise<void> {
  const deleted = isStorableId(clientId, 64) && (await failClosed(() => deleteClientRow(core.db, clientId)));
  if (!deleted) throw new AuthError("not_found", `no client with the id ${JSON.stringify(clientId)}`);
  recordEvent(core, { type: "client.deleted", actor: options.actor ?? "system", detail: { client_id: clientId } });
}
