import type { SendMail } from "../../core/mail/message.js";
import type { Setting } from "../table.js";

/** The mail options of `createAuth()` (rows below). */
export interface MailOptions {
  publicUrl?: string;
  smtpUrl?: string;
  mailFrom?: string;
  sendMail?: SendMail;
  mailOutboxDir?: string;
}

export interface ResolvedMailOptions {
  publicUrl: string;
  smtpUrl: string | undefined;
  mailFrom: string;
  sendMail: SendMail | undefined;
  mailOutboxDir: string;
}

/** Settings of mail (docs/api.md sections 1 and 8; docs/recovery.md). */
export const MAIL_SETTINGS = [
  {
    // Links in mail are built from it, never from a request's Host header.
    option: "publicUrl",
    env: "TOKENVER_PUBLIC_URL",
    kind: { type: "url", pattern: /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/, forms: ["http(s)://host[:port][/path]"] },
    default: "http://127.0.0.1:3000",
    defaultText: "`http://127.0.0.1:<PORT>` (`createAuth()`: `http://127.0.0.1:3000`)",
    doc: "the address users reach the server at: the base of the links in mail",
  },
  {
    option: "smtpUrl",
    env: "TOKENVER_SMTP_URL",
    kind: { type: "url", pattern: /^smtps?:\/\/[^\s/?#]+\/?$/, forms: ["smtp://[user:pass@]host:port", "smtps://..."] },
    defaultText: "unset: mail is written to `./data/outbox/`",
    doc: "where mail goes; STARTTLS (or TLS) and a verified certificate are required unless the host is a loopback address",
  },
  {
    option: "mailFrom",
    env: "TOKENVER_MAIL_FROM",
    kind: { type: "string", nonEmpty: true },
    default: "tokenver <no-reply@localhost>",
    doc: "the `From` of every mail",
  },
  {
    option: "sendMail",
    kind: { type: "function" },
    defaultText: "none",
    doc: "your own delivery, `(message) => Promise<void>` (reject to retry), instead of SMTP; fed from the same outbox",
  },
  {
    option: "mailOutboxDir",
    kind: { type: "string", nonEmpty: true },
    default: "./data/outbox",
    doc: "where mail is written as `.eml` files when there is neither an SMTP URL nor `sendMail`",
  },
] as const satisfies readonly Setting[];
