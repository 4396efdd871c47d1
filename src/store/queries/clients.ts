import type { Kysely } from "kysely";
import type { ClientsTable, Database } from "../schema.js";

export type ClientRow = ClientsTable;

export async function insertClient(db: Kysely<Database>, row: ClientRow): Promise<void> {
  await db.insertInto("tokenver_clients").values(row).execute();
}

export function findClient(db: Kysely<Database>, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom("tokenver_clients").selectAll().where("id", "=", id).executeTakeFirst();
}

export function listClientRows(db: Kysely<Database>): Promise<Array<Omit<ClientRow, "secret_hash">>> {
  return db.selectFrom("tokenver_clients").select(["id", "name", "created_at"]).orderBy("created_at").orderBy("id").execute();
}

export async function deleteClientRow(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom("tokenver_clients").where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
