// A user with the second factor on, over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts): a password that hashes, TOTP started and confirmed by the real
// flows (startTotp, confirmTotp), and a manual clock in the middle of a 30-second step. Shared by the
// unit files of src/core/mfa/ (login-mfa.test.ts, change-factor.test.ts).
import type { Core } from "../../../../src/core/context.js";
import { confirmTotp } from "../../../../src/core/mfa/confirm-totp.js";
import { requireSecondFactor } from "../../../../src/core/mfa/challenge.js";
import { startTotp } from "../../../../src/core/mfa/start-totp.js";
import { hashNewPassword } from "../../../../src/core/passwords/form.js";
import type { Principal, RequestContext } from "../../../../src/core/types.js";
import type { QueuedMail } from "../../../../src/core/mail/message.js";
import * as users from "../../../../src/store/queries/users.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";
import { totpAt } from "../../../support/totp.js";

export const PASSWORD = "a long enough passphrase 42";

/** One password hash for every user of a file: argon2 once, not per test. */
let passwordHash: Promise<string> | undefined;

export interface MfaCore extends SqliteCore {
  /** The core with a mail queue that records each notice's subject, then queues it for real. */
  readonly mfaCore: Core;
  /** The subjects of the notices queued so far, in order (whether or not their transaction committed). */
  readonly subjects: string[];
  now(): number;
  advance(ms: number): void;
}

export async function mfaCore(): Promise<MfaCore> {
  // The middle of a 30-second step: its neighbours are well defined.
  let now = Math.floor(Date.parse("2030-01-01T00:00:00.000Z") / 30_000) * 30_000 + 15_000;
  const world = await sqliteCore({ clock: () => now });
  const subjects: string[] = [];
  const real = world.core.mail;
  const mfaCoreValue: Core = {
    ...world.core,
    mail: {
      enqueue: async (mail: QueuedMail<any>, db) => {
        subjects.push(String((mail.data as { subject?: string }).subject));
        await real.enqueue(mail, db);
      },
    },
  };
  return { ...world, mfaCore: mfaCoreValue, subjects, now: () => now, advance: (ms: number) => void (now += ms) };
}

export interface Enrolled {
  userId: string;
  email: string;
  principal: Principal;
  accessToken: string;
  secret: string;
  recoveryCodes: string[];
}

/** A user whose password is PASSWORD, signed in, with TOTP confirmed at the current step. */
export async function enrolled(world: MfaCore): Promise<Enrolled> {
  const userId = await world.addUser();
  passwordHash ??= hashNewPassword(PASSWORD);
  await world.store.db
    .updateTable("users")
    .set({ password_hash: await passwordHash })
    .where("id", "=", userId)
    .execute();
  const { principal, accessToken } = await world.signIn(userId);
  const { secret } = await startTotp(world.mfaCore, principal);
  const recoveryCodes = await confirmTotp(world.mfaCore, principal, { code: totpAt(secret, world.now()), password: PASSWORD });
  const row = await users.findUserById(world.store.db, userId);
  return { userId, email: row!.email, principal, accessToken, secret, recoveryCodes };
}

/** The `mfa_token` of a right password (what `POST /login` answers as `403 mfa_required`). */
export async function mfaToken(world: MfaCore, userId: string, context: RequestContext = {}): Promise<string> {
  const user = await users.findUserById(world.store.db, userId);
  const required = await requireSecondFactor(world.mfaCore, user!, context);
  return required.members!.mfa_token!;
}

/** The payload of a JWT, unverified. */
export function claimsOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}

/** A six-digit code that is not the secret's at any step of {T-2 .. T+2}. */
export function wrongCode(secret: string, now: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((offset) => totpAt(secret, now, offset)));
  for (const candidate of ["000000", "111111", "222222", "333333"]) if (!near.has(candidate)) return candidate;
  throw new Error("unreachable");
}
