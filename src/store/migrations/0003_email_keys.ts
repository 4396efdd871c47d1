import type { Kysely } from "kysely";
import { recordEmailKeyCollisions, rekeyEmails } from "../queries/users.js";
import type { Database } from "../schema.js";

/**
 * Emails are stored as their lookup key (lib/email-key.ts: NFKC, trimmed, lower-cased, the domain
 * in ASCII by UTS #46) instead of only trimmed and lower-cased: every existing row is re-keyed.
 * Accounts whose emails become one key (`josé` in NFC and in NFD, a full-width address beside its
 * ASCII twin) are left as they are, never merged: a migration cannot tell which one the person
 * owns, nor log. The groups are recorded in `tokenver_meta` (`email_key_collisions`), which
 * createAuth() reads at every start, re-keying the groups an operator has resolved and warning
 * (`onWarning`) about the rest. Rows are read whole: one pass over `id, email`.
 */
export const emailKeys = {
  async up(db: Kysely<unknown>) {
    const store = db as unknown as Kysely<Database>;
    const rows = await store.selectFrom("users").select(["id", "email"]).orderBy("id").execute();
    await recordEmailKeyCollisions(store, await rekeyEmails(store, rows));
  },
};
