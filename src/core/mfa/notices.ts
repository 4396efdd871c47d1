import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import { queueNotice } from "../mail/notice.js";

/**
 * The second factor's mails (the generic `notice` template, to the stored address). Queued in the
 * flow's transaction where there is one, so a notice goes out exactly when its change commits.
 */
const NOT_YOU = "If this was not you, change your password at once and check your account's security settings.";

const NOTICES = {
  enabled: {
    subject: "Two-step sign-in is on",
    paragraphs: [
      "Two-step sign-in (an authenticator app code after the password) was turned on for your account, and every other session of it was signed out.",
      NOT_YOU,
    ],
  },
  disabled: {
    subject: "Two-step sign-in is off",
    paragraphs: [
      "Two-step sign-in was turned off for your account, and every other session of it was signed out. Signing in now takes the password alone.",
      NOT_YOU,
    ],
  },
  recovery_used: {
    subject: "A recovery code was used",
    paragraphs: [
      "One of your account's recovery codes was just used. Each code works once; you can issue a new set from your account's security settings.",
      NOT_YOU,
    ],
  },
  recovery_codes_renewed: {
    subject: "New recovery codes were issued",
    paragraphs: ["A new set of recovery codes was issued for your account; the earlier codes no longer work.", NOT_YOU],
  },
  failed: {
    subject: "A sign-in to your account failed at the second step",
    paragraphs: [
      "Someone entered your account's password correctly, then a wrong authenticator code.",
      "If this was not you, your password is known to someone else: change it at once.",
    ],
  },
} as const;

export type MfaNotice = keyof typeof NOTICES;

export async function queueMfaNotice(core: Core, userId: string, notice: MfaNotice, db: Kysely<Database> = core.db): Promise<void> {
  const { subject, paragraphs } = NOTICES[notice];
  await queueNotice(core, userId, "notice", { subject, paragraphs: [...paragraphs] }, db);
}
