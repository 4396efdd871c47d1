import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

// Nodes keep user rows in memory (LocalRevocationCache.readUser), exact only because every write
// of the users table either bumps token_version (a row is answered only for the version it was
// read at) or is announced after its commit (`core.revoker.userChanged`, every node forgets the
// row before the write returns; docs/scale-out.md, "User rows"). This is the list of writers and
// how each is covered; test/scale-out/user-rows.test.ts checks the announcements on two nodes.
// A new writer makes this test fail: cover it, then add it here.

const ROOT = join(import.meta.dirname, "..", "..", "..");

const KNOWN: Record<string, { writes: number; covered: string }> = {
  "src/store/queries/users.ts": {
    writes: 5,
    covered:
      "insertUser: a new row, never cached; incrementTokenVersion: a bump; updateUserProfile: profile.ts announces; " +
      "replacePasswordHash: the hash is not in the row and the change bumps; rekeyEmails: migration 0003, and at start-up " +
      "for a collision group the operator resolved, not announced (docs/scale-out.md: the address's spelling may lag one " +
      "entry lifetime on the other nodes)",
  },
  "src/store/queries/mfa.ts": {
    writes: 4,
    covered:
      "enableTotp, disableTotp and the confirm's replaceRecoveryCodes run in a revocation with a user-wide intent " +
      "and no bump, which Revoker.revoke announces; renewRecoveryCodes and every consumeRecoveryCode " +
      "(login-mfa.ts, second-factor.ts, the settle of disable/renew) announce",
  },
  "src/store/queries/admin-users.ts": {
    writes: 5,
    covered:
      "disableUser and deleteUser bump; setRole (set-role.ts) announces; enableUser (enable-user.ts) announces, though no " +
      "token at the disabled version can exist to read the row it changes; lockAdmins on SQLite changes no row (WHERE 0: " +
      "it takes the write lock)",
  },
  "src/core/users/create-user.ts": { writes: 1, covered: "the new row's role and verified address, in its creating transaction" },
  "src/core/recovery/verify-email.ts": { writes: 1, covered: "confirmAddress announces; the address change bumps" },
};

// Kysely's builders (any quote, an alias), the table by name in raw SQL (sql.table), and plain SQL.
// A counting tripwire: a writer it cannot see (a table name in a variable) is for review to catch.
const WRITE =
  /(?:updateTable|deleteFrom|insertInto|mergeInto|replaceInto)\(\s*["'`]users\b|\b(?:UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+(?:\$\{\s*sql\.table\(\s*["'`]users["'`]\s*\)\s*\}|"?users\b)/gi;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "migrations" ? [] : sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

test("every writer of the users table is known and covered by a bump or an announcement", () => {
  const found: Record<string, number> = {};
  for (const file of sources(join(ROOT, "src"))) {
    const count = readFileSync(file, "utf8").match(WRITE)?.length ?? 0;
    if (count > 0) found[relative(ROOT, file).split("\\").join("/")] = count;
  }
  const expected = Object.fromEntries(Object.entries(KNOWN).map(([file, known]) => [file, known.writes]));
  assert.deepEqual(
    found,
    expected,
    "the writes of the users table changed: a write that changes what getUser returns must bump token_version or call " +
      "core.revoker.userChanged(userId) after its commit; then update KNOWN in this file",
  );
});
