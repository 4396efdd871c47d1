import { sql, type Kysely } from "kysely";
import { dialectOfAdapter } from "../database.js";

/**
 * PostgreSQL's own types for what earlier migrations stored as text (issue #20): every timestamp
 * becomes `timestamptz` (it was `varchar(32)` holding an ISO 8601 instant in UTC) and the custom
 * user fields (`users.profile`) `jsonb`. `tokenver_events.detail` stays text (JSON nobody queries
 * into). The code above the store still reads the same strings (store/pg-types.ts). On SQLite
 * this migration does nothing: its text compares in time order already.
 *
 * Each table is rewritten by one ALTER TABLE (all its columns at once) under an ACCESS EXCLUSIVE
 * lock, which blocks reads and writes of that table until the migration's transaction commits:
 * on large tables run it in a maintenance window (docs/library.md, "Database").
 *
 * Values: `col::timestamptz` reads each stored instant exactly (they end in `Z`). An empty string
 * (a released webhook lease's `expires_at`, as releases before this one wrote it) becomes the
 * epoch in a NOT NULL column, null in a nullable one. A profile holding the escape `\u0000`, or
 * an unpaired surrogate's, cannot be jsonb: the migration stops before changing anything and
 * names how many.
 */

/** Each table's timestamp columns: name and whether it is NOT NULL (as earlier migrations made them). */
const TIMESTAMPS: Record<string, Record<string, boolean>> = {
  users: { created_at: true, updated_at: true, disabled_at: false, mfa_enabled_at: false, email_verified_at: false },
  sessions: { created_at: true, last_used_at: true, expires_at: true, revoked_at: false },
  refresh_tokens: { created_at: true, expires_at: true, used_at: false, revoked_at: false },
  mail_outbox: { next_attempt_at: true, lease_until: false, created_at: true },
  tokenver_events: { at: true },
  tokenver_webhook_outbox: { next_attempt_at: true, created_at: true },
  tokenver_webhook_dead_letters: { created_at: true, failed_at: true },
  tokenver_webhook_endpoints: { disabled_at: true },
  tokenver_leases: { expires_at: true },
  tokenver_totp: { enabled_at: false, created_at: true },
  tokenver_recovery_codes: { used_at: false, created_at: true },
  tokenver_mfa_challenges: { used_at: false, expires_at: true, created_at: true },
  tokenver_links: { created_at: true, expires_at: true },
  tokenver_signing_keys: { created_at: true, activate_at: true, retire_after: false },
  tokenver_revoked_keys: { revoked_at: true },
  tokenver_clients: { created_at: true },
};

const EPOCH = "1970-01-01T00:00:00.000Z";

type Alteration = Parameters<ReturnType<Kysely<any>["schema"]["alterTable"]>["alterColumn"]>;

export const nativeTypes = {
  async up(db: Kysely<any>) {
    if (dialectOfAdapter(db.getExecutor().adapter) !== "postgres") return;
    // The store's pool stops statements after 10 s (database.ts); rewriting a table of millions of
    // rows takes longer. For this transaction only (the migrator runs each migration in one).
    await sql`set local statement_timeout = 0`.execute(db);

    const nul = await db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      // The JSON escape \u0000 itself, not an escaped backslash followed by `u0000`.
      .where(sql<boolean>`${sql.ref("profile")} ~ ${String.raw`(^|[^\\])(\\\\)*\\u0000`}`)
      .executeTakeFirstOrThrow();
    if (Number(nul.n) > 0) {
      throw new Error(
        `0013_native_types: ${nul.n} user(s) hold U+0000 in a custom field, which PostgreSQL's jsonb cannot store; remove it from those fields, then migrate again`,
      );
    }

    // A lone surrogate escape (`\ud800` unpaired; refused at the door since 2026-11-30, stored by
    // 0.1.0) is no text either: jsonb refuses it. Candidates by regex, decided by JSON.parse.
    const candidates = await db
      .selectFrom("users")
      .select(["id", "profile"])
      .where(sql<boolean>`${sql.ref("profile")} ~* ${String.raw`\\ud[89a-f]`}`)
      .execute();
    const lone = candidates.filter((row) => holdsLoneSurrogate(JSON.parse(String(row.profile)))).length;
    if (lone > 0) {
      throw new Error(
        `0013_native_types: ${lone} user(s) hold an unpaired UTF-16 surrogate (\\ud800 to \\udfff) in a custom field, which PostgreSQL's jsonb cannot store; correct those fields, then migrate again`,
      );
    }

    for (const [table, columns] of Object.entries(TIMESTAMPS)) {
      // DDL takes no bind parameters: the epoch is a literal.
      const alterations = Object.entries(columns).map(([column, notNull]): Alteration => [
        column,
        (c) =>
          c.setDataType(
            sql`timestamptz using (case when ${sql.ref(column)} = '' then ${notNull ? sql.lit(EPOCH) : sql`null`} else ${sql.ref(column)} end)::timestamptz`,
          ),
      ]);
      if (table === "users") {
        // The text default '{}' has no automatic cast to jsonb: dropped, then set again as jsonb.
        alterations.push(
          ["profile", (c) => c.dropDefault()],
          ["profile", (c) => c.setDataType(sql`jsonb using ${sql.ref("profile")}::jsonb`)],
          ["profile", (c) => c.setDefault(sql`'{}'::jsonb`)],
        );
      }
      const [first, ...rest] = alterations;
      let alter = db.schema.alterTable(table).alterColumn(...first!);
      for (const alteration of rest) alter = alter.alterColumn(...alteration);
      await alter.execute();
    }
  },
};

/** Whether a string or a key anywhere in a parsed JSON value holds an unpaired surrogate. */
function holdsLoneSurrogate(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === "string") {
      if (!isWellFormed(current)) return true;
    } else if (current !== null && typeof current === "object") {
      for (const [key, item] of Object.entries(current)) {
        if (!isWellFormed(key)) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

/** `String.prototype.isWellFormed` (ES2024, in Node 20; the compiler's lib is ES2022). */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();
