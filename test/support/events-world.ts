import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { AuthOptions, UserFields } from "../../src/index.js";
import { openStore, type Store } from "../../src/store/database.js";
import { createTestDatabase, type DialectName, type TestDatabase } from "./databases.js";
import { startServer, uniqueEmail, type TestServer } from "./server.js";

export const PASSWORD = "a long and unguessable passphrase";
export const NEW_PASSWORD = "another long and unguessable passphrase";

/** An event as `GET /events` answers it (docs/api.md section 10). */
export type WireEvent = {
  id: string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  at: string;
  detail: Record<string, unknown>;
};

/**
 * The world of the security-event suites: a server over a database file the test also reads
 * itself, a clock that moves a millisecond per reading (and by hand), the warnings it raised, and
 * every secret typed or handed out (none may reach the events table). Call inside a `describe`.
 */
export function eventsWorld(dialect: DialectName, options: Partial<AuthOptions<UserFields>> = {}) {
  let dir: string;
  let database: TestDatabase;
  const world = {
    server: undefined as unknown as TestServer,
    store: undefined as unknown as Store,
    now: Date.now(),
    warnings: [] as string[],
    secrets: new Set<string>([PASSWORD, NEW_PASSWORD]),

    async user(userAgent = "events-test/1.0") {
      const email = uniqueEmail();
      const response = await world.server.api.request("POST", "/register", {
        body: { email, password: PASSWORD },
        headers: { "user-agent": userAgent },
      });
      assert.equal(response.status, 201, response.text);
      world.secrets.add(response.body.access).add(response.body.refresh);
      return {
        email,
        id: response.body.user.id as string,
        access: response.body.access as string,
        refresh: response.body.refresh as string,
      };
    },

    async login(email: string, password = PASSWORD, userAgent = "events-test/1.0") {
      const response = await world.server.api.request("POST", "/login", {
        body: { email, password },
        headers: { "user-agent": userAgent },
      });
      if (response.status === 200) world.secrets.add(response.body.access).add(response.body.refresh);
      return response;
    },

    async ownEvents(access: string): Promise<WireEvent[]> {
      const response = await world.server.api.get("/events", access);
      assert.equal(response.status, 200, response.text);
      return response.body.events;
    },
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-events-"));
    // A file, not :memory:, so the test reads the rows itself.
    database = await createTestDatabase(dialect, join(dir, "events.db"));
    world.server = await startServer({
      dialect,
      databaseUrl: database.url,
      sqliteLock: false,
      clock: () => (world.now += 1),
      onWarning: (m) => world.warnings.push(m),
      rateLimit: { accountFailures: 1000, addressFailures: 1000 },
      ...options,
    });
    world.store = await openStore(database.url);
  });
  after(async () => {
    await world.store?.close();
    await world.server?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return world;
}
