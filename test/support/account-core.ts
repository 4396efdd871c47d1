// Helpers over test/support/sqlite-core.ts for the account-changing operations (src/core/passwords/
// change-password.ts, confirm-password.ts, src/core/recovery/*): a user with a real password hash,
// a session signed in at the account's current version (and `amr`), the mail queued in the outbox
// opened (recipient, subject, text), mailed links issued as the flows issue them, and TOTP turned
// on through the real enrolment. Nothing of the store is mocked.
import assert from "node:assert/strict";
import { sql, type Selectable } from "kysely";
import { isoAt } from "../../src/core/clock.js";
import { AuthError } from "../../src/core/errors.js";
import { confirmTotp } from "../../src/core/mfa/confirm-totp.js";
import { startTotp } from "../../src/core/mfa/start-totp.js";
import { open } from "../../src/core/mail/seal.js";
import { hashNewPassword, verifyWithForms } from "../../src/core/passwords/form.js";
import { issueLink } from "../../src/core/recovery/link.js";
import { planSession } from "../../src/core/sessions/issue.js";
import type { Principal, RequestContext } from "../../src/core/types.js";
import type { LinkPurpose, LinksTable, UsersTable } from "../../src/store/schema.js";
import type { SqliteCore } from "./sqlite-core.js";
import { totpAt } from "./totp.js";

export const PASSWORD = "the account's own passphrase";

/** Rejects with an AuthError of `code` (and `status`, `tokenPresented`, message when given). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  more: { status?: number; message?: string; tokenPresented?: boolean } = {},
): Promise<AuthError> {
  let caught: AuthError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code, error.message);
    if (more.status !== undefined) assert.equal(error.status, more.status, "status");
    if (more.message !== undefined) assert.equal(error.message, more.message);
    if (more.tokenPresented !== undefined) assert.equal(error.tokenPresented, more.tokenPresented, "tokenPresented");
    caught = error;
    return true;
  });
  return caught!;
}

/** The fields of a validation_failed error. */
export async function rejectsFields(promise: Promise<unknown>, fields: string[]): Promise<AuthError> {
  const error = await rejectsWith(promise, "validation_failed");
  assert.deepEqual(
    (error.errors ?? []).map((e) => e.field),
    fields,
    JSON.stringify(error.errors),
  );
  return error;
}

/** Gives the user a real (argon2id, NFKC-form) hash of `password`. */
export async function setPassword(world: SqliteCore, userId: string, password = PASSWORD): Promise<void> {
  const hash = await hashNewPassword(password);
  await world.store.db.updateTable("users").set({ password_hash: hash }).where("id", "=", userId).execute();
}

/** A new user with a real hash of PASSWORD: one that can sign in, change and reset it. */
export async function addAccount(world: SqliteCore): Promise<string> {
  const userId = await world.addUser();
  await setPassword(world, userId);
  return userId;
}

/** Whether the user's stored hash is one of `password` (in any of its accepted forms). */
export async function passwordIs(world: SqliteCore, userId: string, password: string): Promise<boolean> {
  return (await verifyWithForms((await user(world, userId))!.password_hash, password)).ok;
}

export function user(world: SqliteCore, userId: string): Promise<Selectable<UsersTable> | undefined> {
  return world.store.db.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirst();
}

/** A new live session at the account's current version (as a login makes it), with `amr` in the token when given. */
export async function signInNow(
  world: SqliteCore,
  userId: string,
  options: { amr?: readonly string[]; context?: RequestContext } = {},
): Promise<{ principal: Principal; accessToken: string; refreshToken: string }> {
  const { core } = world;
  const row = await user(world, userId);
  assert.ok(row !== undefined);
  const planned = planSession(core, userId, row.token_version, core.config.clock(), options.context ?? {}, options.amr);
  await world.store.db.transaction().execute((trx) => planned.persist(trx));
  const accessToken = core.sign(userId, planned.sessionId, row.token_version, options.amr);
  return { principal: await world.verify(accessToken), accessToken, refreshToken: planned.refreshToken };
}

/** A link as the flows issue it, for the account as it is now (or as `bound` says); its token. */
export async function linkFor(
  world: SqliteCore,
  userId: string,
  purpose: LinkPurpose,
  bound: { newEmail?: string; email?: string; tokenVersion?: number; ttl?: number } = {},
): Promise<string> {
  const row = await user(world, userId);
  assert.ok(row !== undefined);
  const url = await world.store.db.transaction().execute((trx) =>
    issueLink(world.core, trx, {
      userId,
      purpose,
      email: bound.email ?? row.email,
      tokenVersion: bound.tokenVersion ?? row.token_version,
      ttl: bound.ttl ?? 3600,
      ...(bound.newEmail === undefined ? {} : { newEmail: bound.newEmail }),
    }),
  );
  return new URL(url).hash.replace(/^#token=/, "");
}

export function links(world: SqliteCore, userId: string): Promise<Array<Selectable<LinksTable>>> {
  return world.store.db.selectFrom("tokenver_links").selectAll().where("user_id", "=", userId).orderBy("purpose").execute();
}

export interface OpenedMail {
  template: string;
  to: string;
  subject: string;
  text: string;
}

/** The mail queued in the outbox, in order, opened with the outbox's key. */
export async function mails(world: SqliteCore): Promise<OpenedMail[]> {
  const key = world.core.deriveKey("tokenver mail outbox v1");
  const rows = await world.store.db
    .selectFrom("mail_outbox")
    .select(["id", "template", "payload"])
    .orderBy(sql`rowid`)
    .execute();
  return rows.map((r) => {
    const message = JSON.parse(open(key, r.id, r.payload)) as { to: string; subject: string; text: string };
    return { template: r.template, to: message.to, subject: message.subject, text: message.text };
  });
}

/** The live (not revoked) session ids of the user. */
export async function liveSessions(world: SqliteCore, userId: string): Promise<string[]> {
  const rows = await world.store.db
    .selectFrom("sessions")
    .select("id")
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .orderBy("id")
    .execute();
  return rows.map((r) => r.id);
}

/** Turns TOTP on for the principal's account through startTotp and confirmTotp; the secret and the recovery codes. */
export async function enableTotp(
  world: SqliteCore,
  principal: Principal,
  password = PASSWORD,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = await startTotp(world.core, principal);
  const recoveryCodes = await confirmTotp(world.core, principal, { password, code: totpAt(secret, world.core.config.clock()) });
  return { secret, recoveryCodes };
}

export const iso = isoAt;
