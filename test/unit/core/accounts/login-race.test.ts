// src/core/accounts/login.ts over the real core and a real SQLite store in memory: what commits
// between a sign-in's password check and its session's transaction (users.signInStillValid). The
// step runs exactly there: a proxy over the core's database runs it when the sign-in asks for the
// connection of its transaction (the first time only, or every time). Without the check, a second
// factor turned on meanwhile left a live password-only session that its "every other session is
// revoked" never saw.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import type { Kysely } from "kysely";
import { login } from "../../../../src/core/accounts/login.js";
import type { Core } from "../../../../src/core/context.js";
import { AuthError } from "../../../../src/core/errors.js";
import { confirmTotp } from "../../../../src/core/mfa/confirm-totp.js";
import { startTotp } from "../../../../src/core/mfa/start-totp.js";
import { hashNewPassword } from "../../../../src/core/passwords/form.js";
import type { Database } from "../../../../src/store/schema.js";
import { totpAt } from "../../../support/totp.js";
import { mfaCore, PASSWORD, type MfaCore } from "../mfa/enrolled-core.js";

let world: MfaCore;
let userId: string;
let email: string;
beforeEach(async () => {
  world = await mfaCore();
  userId = await world.addUser();
  await world.store.db
    .updateTable("users")
    .set({ password_hash: await hashNewPassword(PASSWORD) })
    .where("id", "=", userId)
    .execute();
  email = (await world.store.db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirstOrThrow()).email;
});
afterEach(() => world.close());

/** The core whose database runs `step` when a transaction's connection is asked for (once, or `every` time). */
function racing(step: () => Promise<void>, every = false): Core {
  let pending = true;
  const db = new Proxy(world.mfaCore.db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if ((property === "connection" || property === "transaction") && typeof value === "function") {
        return (...args: unknown[]) => {
          const builder = (value as (...a: unknown[]) => { execute: (f: unknown) => Promise<unknown> }).apply(target, args);
          return {
            execute: async (work: unknown) => {
              if (pending || every) {
                pending = false;
                await step();
              }
              return builder.execute(work);
            },
          };
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Kysely<Database>;
  return { ...world.mfaCore, db };
}

const liveSessions = async () =>
  (
    await world.store.db
      .selectFrom("sessions")
      .select(["id", "token_version"])
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null)
      .execute()
  ).map((s) => s.id);

const version = async () =>
  (await world.store.db.selectFrom("users").select("token_version").where("id", "=", userId).executeTakeFirstOrThrow()).token_version;

async function refused(promise: Promise<unknown>, code: string): Promise<AuthError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}, the sign-in succeeded`),
    (error: unknown) => void (caught = error),
  );
  assert.ok(caught instanceof AuthError, String(caught));
  assert.equal(caught.code, code);
  return caught;
}

test("a second factor turned on between the password check and the session: mfa_required, and only the enrolling session lives", async () => {
  const { principal } = await world.signIn(userId);
  const { secret } = await startTotp(world.mfaCore, principal);
  const core = racing(async () => {
    await confirmTotp(world.mfaCore, principal, { code: totpAt(secret, world.now()), password: PASSWORD });
  });
  const error = await refused(login(core, { email, password: PASSWORD }, {}), "mfa_required");
  assert.ok(error.members?.mfa_token);
  assert.deepEqual(await liveSessions(), [principal.sessionId]);
});

test("the account disabled meanwhile: account_disabled, nothing written", async () => {
  const core = racing(async () => {
    await world.store.db
      .updateTable("users")
      .set((eb) => ({ disabled_at: new Date(world.now()).toISOString(), token_version: eb("token_version", "+", 1) }))
      .where("id", "=", userId)
      .execute();
  });
  await refused(login(core, { email, password: PASSWORD }, {}), "account_disabled");
  assert.deepEqual(await liveSessions(), []);
});

test("the password changed meanwhile: invalid_credentials (the typed one opened the old hash only), nothing written", async () => {
  const other = await hashNewPassword("a different passphrase 43");
  const core = racing(async () => {
    await world.store.db
      .updateTable("users")
      .set((eb) => ({ password_hash: other, token_version: eb("token_version", "+", 1) }))
      .where("id", "=", userId)
      .execute();
  });
  const error = await refused(login(core, { email, password: PASSWORD }, {}), "invalid_credentials");
  assert.equal(error.message, "The email or password is incorrect.");
  assert.deepEqual(await liveSessions(), []);
});

test("signed out everywhere meanwhile, the same password: the sign-in is decided again and its session is at the new version", async () => {
  const before = await version();
  const core = racing(async () => {
    await world.store.db
      .updateTable("users")
      .set((eb) => ({ token_version: eb("token_version", "+", 1) }))
      .where("id", "=", userId)
      .execute();
  });
  const signIn = await login(core, { email, password: PASSWORD }, {});
  assert.equal(await version(), before + 1);
  const principal = await world.verify(signIn.accessToken);
  assert.equal(principal.tokenVersion, before + 1);
  assert.deepEqual(await liveSessions(), [principal.sessionId]);
});

test("a change before every attempt: 503 service_unavailable after three, nothing written", async () => {
  let steps = 0;
  const core = racing(async () => {
    steps += 1;
    await world.store.db
      .updateTable("users")
      .set((eb) => ({ token_version: eb("token_version", "+", 1) }))
      .where("id", "=", userId)
      .execute();
  }, true);
  const error = await refused(login(core, { email, password: PASSWORD }, {}), "service_unavailable");
  assert.equal(error.message, "The account changed during sign-in; try again.");
  assert.equal(steps, 3);
  assert.deepEqual(await liveSessions(), []);
});

test("a store failure at the session's transaction: 503 at once, not taken for a change and decided again", async () => {
  let steps = 0;
  const core = racing(async () => {
    steps += 1;
    throw new Error("SQLITE_IOERR: disk I/O error (test)");
  }, true);
  const error = await refused(login(core, { email, password: PASSWORD }, {}), "service_unavailable");
  assert.notEqual(error.message, "The account changed during sign-in; try again.");
  assert.equal(steps, 1);
  assert.deepEqual(await liveSessions(), []);
});

test("nothing changed: one attempt, one session at the version read", async () => {
  let steps = 0;
  const before = await version();
  const core = racing(async () => void (steps += 1), true);
  const signIn = await login(core, { email, password: PASSWORD }, {});
  assert.equal(steps, 1);
  assert.equal((await world.verify(signIn.accessToken)).tokenVersion, before);
});
