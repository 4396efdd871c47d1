import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import type { TemplateData, TemplateName } from "./templates.js";

/**
 * Queues a mail to the address stored on the account `userId` (docs/api.md section 8: never an
 * address as typed in a request). Read in `db` (pass the flow's transaction): a notice about a
 * change goes out only if the change commits. Resolves to false when the account is gone.
 */
export async function queueNotice<T extends TemplateName>(
  core: Core,
  userId: string,
  template: T,
  data: TemplateData<T>,
  db: Kysely<Database> = core.db,
): Promise<boolean> {
  const row = await db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirst();
  if (row === undefined) return false;
  await core.mail.enqueue({ to: row.email, template, data }, db);
  return true;
}
