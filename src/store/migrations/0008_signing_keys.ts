import type { Kysely } from "kysely";

/**
 * Signing keys and service clients (docs/api.md section 7; docs/keys.md).
 *
 * `tokenver_signing_keys`: one row per key that signs, will sign or still verifies. `private_key`
 * is the private (or HMAC) key sealed with AES-256-GCM under a key derived from the server secret,
 * the kid as associated data; null for the HS256 key that is the server secret itself. The state
 * is derived from the dates: the current signer is the key with the latest `activate_at` not in
 * the future; later ones are next; earlier ones verify until `retire_after`.
 *
 * `tokenver_revoked_keys`: the kid of every key `tokenver keys revoke` removed, so that no start-up,
 * command or rotation ever adds it again (a compromised TOKENVER_SIGNING_KEY stays out).
 *
 * `tokenver_clients`: the service clients of introspection; the secret only as an HMAC-SHA-256.
 */
export const signingKeys = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("tokenver_signing_keys")
      .addColumn("kid", "varchar(128)", (c) => c.primaryKey())
      .addColumn("alg", "varchar(16)", (c) => c.notNull())
      .addColumn("private_key", "text")
      .addColumn("public_jwk", "text")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("activate_at", "varchar(32)", (c) => c.notNull())
      .addColumn("retire_after", "varchar(32)")
      .execute();
    await db.schema
      .createTable("tokenver_revoked_keys")
      .addColumn("kid", "varchar(128)", (c) => c.primaryKey())
      .addColumn("revoked_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("tokenver_clients")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("name", "varchar(200)", (c) => c.notNull())
      .addColumn("secret_hash", "varchar(128)", (c) => c.notNull())
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();
  },
};
