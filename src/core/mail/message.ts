import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";
import type { TemplateData, TemplateName } from "./templates.js";

/** A mail as the transport gets it: plain text always, HTML beside it. */
export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * What a library user may pass as `sendMail` instead of SMTP: resolve once the mail is handed
 * on, reject to have it retried later (with backoff). Never called while a request waits.
 */
export type SendMail = (message: MailMessage) => Promise<void>;

/** A mail to queue: the address and a template with its data (templates.ts). */
export interface QueuedMail<T extends TemplateName = TemplateName> {
  to: string;
  template: T;
  data: TemplateData<T>;
}

/**
 * The mail queue on `Core` (`core.mail`). `enqueue` renders the mail and inserts it into the
 * durable outbox; pass the flow's transaction as `db` so the mail exists exactly when the change
 * that caused it commits. It never waits for SMTP: a worker delivers it (outbox.ts).
 */
export interface MailQueue {
  enqueue<T extends TemplateName>(mail: QueuedMail<T>, db?: Kysely<Database>): Promise<void>;
}
