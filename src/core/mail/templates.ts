/**
 * The mails tokenver sends: each a function of its data to a subject and paragraphs, with at most
 * one link, which goes on a line of its own (docs/api.md section 8). `render` makes the plain-text
 * part (always) and an HTML part from the same paragraphs. Another capability with a mail of its
 * own adds a template here, or sends the generic `notice`.
 */
interface Draft {
  subject: string;
  paragraphs: string[];
  link?: { label: string; url: string };
  /** After the link (what to do if this was not you). */
  after?: string[];
}

const NOT_YOU_SIGN_IN = "If this was not you, change your password at once: every session of the account then ends.";

export const TEMPLATES = {
  verify_email: (d: { link: string }): Draft => ({
    subject: "Confirm your email address",
    paragraphs: ["Open this link to confirm your email address:"],
    link: { label: "Confirm the address", url: d.link },
    after: ["The link works once. If you did not ask for it, ignore this mail."],
  }),
  password_reset: (d: { link: string }): Draft => ({
    subject: "Reset your password",
    paragraphs: ["Someone (we hope you) asked to reset the password of the account with this address. Open this link to choose a new one:"],
    link: { label: "Choose a new password", url: d.link },
    after: ["The link works once and expires soon. If you did not ask for it, ignore this mail: your password stays as it is."],
  }),
  password_reset_done: (_d: Record<string, never>): Draft => ({
    subject: "Your password was reset",
    paragraphs: ["The password of your account was reset, and every session of it was signed out."],
    after: ["If this was not you, reset your password again now and check the address on your account."],
  }),
  email_change_requested: (d: { newEmail: string; cancelLink: string }): Draft => ({
    subject: "Your email address is about to change",
    paragraphs: [`A change of your account's email address to ${d.newEmail} was requested. It happens once the new address is confirmed.`],
    link: { label: "This was not me: cancel the change and sign out everywhere", url: d.cancelLink },
    after: ["If this was you, there is nothing to do."],
  }),
  email_changed: (d: { newEmail: string }): Draft => ({
    subject: "Your email address was changed",
    paragraphs: [`Your account's email address is now ${d.newEmail}, and every session of it was signed out.`],
    after: ["If this was not you, contact the service's administrator."],
  }),
  account_deleted: (_d: Record<string, never>): Draft => ({
    subject: "Your account was deleted",
    paragraphs: ["Your account and every session of it were deleted."],
    after: ["If this was not you, contact the service's administrator."],
  }),
  session_revoked_password_guessing: (_d: Record<string, never>): Draft => ({
    subject: "A session of your account was signed out",
    paragraphs: ["A signed-in session of your account entered a wrong password too many times, so it was signed out."],
    after: [NOT_YOU_SIGN_IN],
  }),
  /** A generic notice, for capabilities without a template of their own. */
  notice: (d: { subject: string; paragraphs: string[]; link?: { label: string; url: string } }): Draft => ({
    subject: d.subject,
    paragraphs: d.paragraphs,
    ...(d.link === undefined ? {} : { link: d.link }),
  }),
} as const;

export type TemplateName = keyof typeof TEMPLATES;
export type TemplateData<T extends TemplateName> = Parameters<(typeof TEMPLATES)[T]>[0];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function isTemplateName(name: unknown): name is TemplateName {
  return typeof name === "string" && Object.hasOwn(TEMPLATES, name);
}

export function render<T extends TemplateName>(template: T, data: TemplateData<T>): RenderedMail {
  const draft = (TEMPLATES[template] as (d: TemplateData<T>) => Draft)(data);
  const after = draft.after ?? [];
  const text = [
    ...draft.paragraphs,
    // The link alone on its line: mail clients and people copy it whole.
    ...(draft.link === undefined ? [] : [draft.link.url]),
    ...after,
  ].join("\n\n");
  const html = [
    ...draft.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(draft.link === undefined ? [] : [`<p><a href="${escapeHtml(draft.link.url)}">${escapeHtml(draft.link.label)}</a></p>`]),
    ...after.map((p) => `<p>${escapeHtml(p)}</p>`),
  ].join("\n");
  return {
    subject: draft.subject.replace(/[\r\n]+/g, " "),
    text: `${text}\n`,
    html: `<!doctype html>\n<html><body>\n${html}\n</body></html>\n`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
