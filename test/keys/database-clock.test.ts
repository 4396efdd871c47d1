import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { startServer, type TestServer } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/keys.md, "Clocks": on PostgreSQL every decision about keys and every date written on them
// is taken on the database's clock, not the node's. Here the database's clock runs an hour ahead of
// this process's: `clock_timestamp()` is shadowed for the test database's connections by a function
// earlier on its search_path (pg_catalog named last, so it is searched last). The node runs on the
// system clock, as in production.

const HOUR = 3_600_000;
const PUBLISH_DELAY = 600;

for (const dialect of dialects().filter((d) => d === "postgres")) {
  describe(`the keys' clock is the database's (${dialect})`, () => {
    let database: TestDatabase;
    let server: TestServer;

    before(async () => {
      database = await createTestDatabase(dialect);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await client.query("create schema skewed_clock");
        await client.query(
          "create function skewed_clock.clock_timestamp() returns timestamptz language sql as " +
            "$$ select pg_catalog.clock_timestamp() + interval '1 hour' $$",
        );
        const name = new URL(database.url).pathname.slice(1);
        await client.query(`alter database ${name} set search_path = public, skewed_clock, pg_catalog`);
      } finally {
        await client.end();
      }
      server = await startServer({ dialect, databaseUrl: database.url, signingAlg: "ES256", keyPublishDelay: PUBLISH_DELAY });
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    /** `iso` is within a minute of an hour after this process's now. */
    function anHourAhead(iso: string, what: string) {
      const off = Date.parse(iso) - (Date.now() + HOUR);
      assert.ok(Math.abs(off) < 60_000, `${what} (${iso}) is not on the database's clock (off by ${off} ms)`);
    }

    test("the first key, a rotation and a revocation are dated by the database's clock; the node signs throughout", async () => {
      const [first] = await server.auth.listKeys();
      anHourAhead(first!.createdAt, "the first key's creation");
      const user = await server.api.register();
      assert.equal(decodePart(user.access, 0).kid, first!.kid);

      const rotated = await server.auth.rotateKey();
      anHourAhead(new Date(Date.parse(rotated.activateAt) - PUBLISH_DELAY * 1000).toISOString(), "the rotation's publish time");
      // Not refused as made "in the future" by a node behind the database's clock: the same clock decides.
      const { signer } = await server.auth.revokeKey(rotated.kid);
      assert.equal(signer, first!.kid, "a next key revoked before it signed: the signer keeps signing");
      const after = await server.auth.listKeys();
      assert.deepEqual(
        after.map((k) => k.kid),
        [first!.kid],
      );
      assert.equal(after[0]!.retireAfter, null, "no retirement date any more");
      assert.equal((await server.api.get("/profile", user.access)).status, 200);
    });
  });
}
