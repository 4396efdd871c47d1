// src/core/clients/manage-clients.ts over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts): `tokenver clients list` answers ids, names and dates only (never a
// secret or its hash), in creation order; `tokenver clients delete <id>` removes the client, whose
// next introspection is invalid_client, and records it; an id that names nothing is not_found
// without a write or an event, and one the store cannot hold is not_found without asking it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { createClient } from "../../../../src/core/clients/create-client.js";
import { introspect } from "../../../../src/core/clients/introspect.js";
import { deleteClient, listClients } from "../../../../src/core/clients/manage-clients.js";
import type { Core } from "../../../../src/core/context.js";
import { openStore } from "../../../../src/store/database.js";
import { iso, rejectsWith } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

async function downCore(): Promise<Core> {
  const closed = await openStore("sqlite::memory:");
  await closed.close();
  return { ...world.core, db: closed.db };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const verify = (authorization: string) => world.verify(authorization.replace(/^Bearer /, ""));

describe("listClients", () => {
  test("id, name and creation date of each client, oldest first (then by id); never the secret or its hash", async () => {
    assert.deepEqual(await listClients(world.core), []);
    const first = await createClient(world.core, "billing");
    now += 1000;
    const second = await createClient(world.core, "reports");
    const third = await createClient(world.core, "audit");
    const [b, c] = [second, third].sort((x, y) => (x.clientId < y.clientId ? -1 : 1));
    assert.deepEqual(await listClients(world.core), [
      { clientId: first.clientId, name: "billing", createdAt: iso(now - 1000) },
      { clientId: b!.clientId, name: b!.name, createdAt: iso(now) },
      { clientId: c!.clientId, name: c!.name, createdAt: iso(now) },
    ]);
  });

  test("a store that does not answer: 503", async () => {
    await rejectsWith(listClients(await downCore()), "service_unavailable", { status: 503 });
  });
});

describe("deleteClient", () => {
  test("the client is gone: its next introspection is invalid_client; client.deleted with the actor (default system)", async () => {
    const gone = await createClient(world.core, "billing");
    now += 1000;
    const kept = await createClient(world.core, "reports");
    now += 1000;
    const other = await createClient(world.core, "audit");
    const auth = basic(gone.clientId, gone.clientSecret);
    assert.deepEqual(await introspect(world.core, verify, { authorization: auth, token: "x" }), { active: false });
    await deleteClient(world.core, gone.clientId, { actor: "cli" });
    await rejectsWith(introspect(world.core, verify, { authorization: auth, token: "x" }), "invalid_client");
    assert.deepEqual(
      (await listClients(world.core)).map((c) => c.clientId),
      [kept.clientId, other.clientId],
    );
    await deleteClient(world.core, other.clientId);
    const events = await world.events("client.deleted");
    assert.deepEqual(
      events.map((e) => [e.user_id, e.actor, JSON.parse(e.detail)]),
      [
        [null, "cli", { client_id: gone.clientId }],
        [null, "system", { client_id: other.clientId }],
      ],
    );
  });

  test("an unknown id, or one deleted already: not_found naming it, nothing deleted, no event", async () => {
    const client = await createClient(world.core, "billing");
    await deleteClient(world.core, client.clientId);
    for (const id of [client.clientId, "tvc_unknown"]) {
      await rejectsWith(deleteClient(world.core, id), "not_found", { status: 404, message: `no client with the id ${JSON.stringify(id)}` });
    }
    const kept = await createClient(world.core, "reports");
    await rejectsWith(deleteClient(world.core, "tvc_unknown"), "not_found");
    assert.deepEqual(
      (await listClients(world.core)).map((c) => c.clientId),
      [kept.clientId],
    );
    assert.equal((await world.events("client.deleted")).length, 1);
  });

  test("an id the store cannot hold (empty, over 64 characters, NUL, no string) is not_found without asking the store", async () => {
    const down = await downCore();
    for (const id of ["", "i".repeat(65), "tvc_\u0000x", undefined, 42]) {
      await rejectsWith(deleteClient(down, id as never), "not_found", { message: `no client with the id ${JSON.stringify(id)}` });
    }
    // A storable id does ask the store: 503 from the same closed store.
    await rejectsWith(deleteClient(down, "i".repeat(64)), "service_unavailable", { status: 503 });
    assert.deepEqual(await world.events("client.deleted"), []);
  });
});
