import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../src/store/database.js";
import { createTestDatabase, type DialectName, type TestDatabase } from "./databases.js";
import { startServer, type TestServer } from "./server.js";
import { startSmtp, type ReceivedMail, type TestSmtp } from "./smtp.js";
import { totpAt } from "./totp.js";

/** A server for the second-factor suites: a manual clock, real SMTP, and a store to read rows with. */
export interface MfaWorld {
  server: TestServer;
  smtp: TestSmtp;
  store: Store;
  now(): number;
  advance(ms: number): void;
  close(): Promise<void>;
}

export async function startMfaWorld(dialect: DialectName, rateLimit: Record<string, number> = {}): Promise<MfaWorld> {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-mfa-"));
  const database: TestDatabase = await createTestDatabase(dialect, join(dir, "mfa.db"));
  const smtp = await startSmtp();
  // The middle of a 30-second step, so that "now" and its neighbours are well defined.
  let now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
  const server = await startServer({
    dialect,
    databaseUrl: database.url,
    sqliteLock: false,
    clock: () => now,
    smtpUrl: smtp.url,
    onWarning: () => {},
    rateLimit: { accountFailures: 1000, addressFailures: 1000, ...rateLimit },
  }).catch(async (error: unknown) => {
    await smtp.close();
    throw error;
  });
  const store = await openStore(database.url);
  return {
    server,
    smtp,
    store,
    now: () => now,
    advance: (ms) => void (now += ms),
    close: async () => {
      await store.close();
      await server.close();
      await smtp.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Enrolled {
  user: { id: string; email: string };
  email: string;
  password: string;
  access: string;
  refresh: string;
  secret: string;
  recoveryCodes: string[];
}

/** Registers a user and turns TOTP on (the confirmation uses the current step). */
export async function enrolled(world: MfaWorld): Promise<Enrolled> {
  const api = world.server.api;
  const reg = await api.register();
  const start = await api.post("/mfa/totp", undefined, reg.access);
  assert.equal(start.status, 200, start.text);
  const secret = start.body.secret as string;
  const confirm = await api.post("/mfa/totp/confirm", { code: totpAt(secret, world.now()), password: reg.password }, reg.access);
  assert.equal(confirm.status, 200, confirm.text);
  return { ...reg, secret, recoveryCodes: confirm.body.recovery_codes };
}

/** Signs in up to `403 mfa_required`; resolves to the mfa_token. */
export async function mfaToken(world: MfaWorld, who: { email: string; password: string }): Promise<string> {
  const response = await world.server.api.post("/login", { email: who.email, password: who.password });
  assert.equal(response.status, 403, response.text);
  assert.equal(response.body.code, "mfa_required");
  assert.equal(typeof response.body.mfa_token, "string");
  return response.body.mfa_token;
}

/** Resolves once a mail to `address` whose subject matches has arrived. */
export async function mailTo(smtp: TestSmtp, address: string, subject: RegExp, timeoutMs = 10_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = smtp.to(address).find((m) => subject.test(m.subject));
    if (mail !== undefined) return mail;
    if (Date.now() > deadline) throw new Error(`no mail to ${address} matching ${subject}: ${smtp.to(address).map((m) => m.subject)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
