// src/core/clients/create-client.ts over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts): what `tokenver clients create <name>` writes (an HMAC of the
// secret, never the secret), what it answers once, what it records, and which names it refuses
// without writing anything.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { hashClientSecret } from "../../../../src/core/clients/client-secret.js";
import { createClient } from "../../../../src/core/clients/create-client.js";
import type { Core } from "../../../../src/core/context.js";
import { HOLDS_NUL } from "../../../../src/core/validation.js";
import { openStore } from "../../../../src/store/database.js";
import { iso, rejectsWith } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const NAME_RULE = "The name is required (at most 200 characters).";

let world: SqliteCore;
const now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

const rows = () => world.store.db.selectFrom("tokenver_clients").selectAll().orderBy("id").execute();

describe("createClient", () => {
  test("the row holds the trimmed name, the clock's date and the HMAC of the secret, never the secret; the secret is answered once", async () => {
    const created = await createClient(world.core, "  billing service \t");
    assert.match(created.clientId, /^tvc_[A-Za-z0-9_-]{16}$/);
    assert.match(created.clientSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(created.clientSecret, "base64url").length, 32, "256 random bits");
    assert.equal(created.name, "billing service");
    assert.equal(created.createdAt, iso(now));
    assert.deepEqual(Object.keys(created).sort(), ["clientId", "clientSecret", "createdAt", "name"]);
    const [row, ...more] = await rows();
    assert.deepEqual(more, []);
    assert.deepEqual(row, {
      id: created.clientId,
      name: "billing service",
      secret_hash: hashClientSecret(world.core, created.clientSecret),
      created_at: iso(now),
    });
    assert.notEqual(row!.secret_hash, created.clientSecret);
    assert.ok(!row!.secret_hash.includes(created.clientSecret));
  });

  test("two clients: two ids, two secrets, two hashes", async () => {
    const a = await createClient(world.core, "a");
    const b = await createClient(world.core, "b");
    assert.notEqual(a.clientId, b.clientId);
    assert.notEqual(a.clientSecret, b.clientSecret);
    const [ra, rb] = await rows();
    assert.notEqual(ra!.secret_hash, rb!.secret_hash);
  });

  test("client.created names the client and its name, with the actor (default system); never the secret", async () => {
    const byCli = await createClient(world.core, " billing ", { actor: "cli" });
    const bySystem = await createClient(world.core, "reports");
    const events = await world.events("client.created");
    assert.deepEqual(
      events.map((e) => [e.user_id, e.actor, JSON.parse(e.detail)]),
      [
        [null, "cli", { client_id: byCli.clientId, name: "billing" }],
        [null, "system", { client_id: bySystem.clientId, name: "reports" }],
      ],
    );
    for (const e of events) {
      assert.ok(!e.detail.includes(byCli.clientSecret) && !e.detail.includes(bySystem.clientSecret));
    }
  });

  test("a name of 1 to 200 characters after trimming: 200 is taken, 201, blank and non-strings are validation_failed naming name", async () => {
    assert.equal((await createClient(world.core, ` ${"n".repeat(200)} `)).name, "n".repeat(200));
    assert.equal((await createClient(world.core, "x")).name, "x");
    for (const name of ["n".repeat(201), "", "   ", "\t\n", undefined, null, 42, ["billing"]]) {
      const error = await rejectsWith(createClient(world.core, name as never), "validation_failed", { status: 400, message: NAME_RULE });
      assert.deepEqual(error.errors, [{ field: "name", message: "must be 1 to 200 characters" }], JSON.stringify(name));
    }
    assert.equal((await rows()).length, 2, "nothing written for a refused name");
    assert.equal((await world.events("client.created")).length, 2);
  });

  test("a name holding NUL: validation_failed naming name, nothing written", async () => {
    const error = await rejectsWith(createClient(world.core, "bill\u0000ing"), "validation_failed", { status: 400 });
    assert.deepEqual(error.errors, [{ field: "name", message: HOLDS_NUL }]);
    assert.deepEqual(await rows(), []);
    assert.deepEqual(await world.events("client.created"), []);
  });

  test("a store that does not answer: 503 and no event", async () => {
    const closed = await openStore("sqlite::memory:");
    await closed.close();
    const down: Core = { ...world.core, db: closed.db };
    await rejectsWith(createClient(down, "billing"), "service_unavailable", { status: 503 });
    assert.deepEqual(await world.events("client.created"), []);
  });
});
