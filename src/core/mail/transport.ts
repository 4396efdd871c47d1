import { mkdir, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import nodemailer from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import type { MailMessage, SendMail } from "./message.js";

/** Hands one mail on; rejects to have it retried. `id` is the outbox row's (stable across retries). */
export interface MailTransport {
  readonly kind: "smtp" | "file" | "custom";
  send(id: string, message: MailMessage): Promise<void>;
  close(): void;
}

/** Seconds nodemailer may wait at each step: well under the outbox lease, so one node sends a mail at a time. */
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/**
 * SMTP over nodemailer. `smtp://` must upgrade with STARTTLS and `smtps://` is TLS from the start;
 * either way the certificate is verified (TLS 1.2 at least), except towards a loopback address,
 * where a local relay or a test server need not hold a certificate for the name. The credentials
 * come from the URL's user and password and go nowhere else (nodemailer's own logging is off).
 */
export function smtpTransport(url: string): MailTransport {
  const transporter = nodemailer.createTransport(smtpOptions(url));
  return {
    kind: "smtp",
    async send(_id, message) {
      await transporter.sendMail(message);
    },
    close: () => transporter.close(),
  };
}

/** nodemailer's options for an SMTP URL (the rules above, in one place a test can read). */
export function smtpOptions(url: string): SMTPTransport.Options {
  const parsed = new URL(url);
  const secure = parsed.protocol === "smtps:";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const loopback = isLoopback(host);
  const user = decodeURIComponent(parsed.username);
  return {
    host,
    port: parsed.port === "" ? (secure ? 465 : 587) : Number(parsed.port),
    secure,
    requireTLS: !secure && !loopback,
    ...(user === "" ? {} : { auth: { user, pass: decodeURIComponent(parsed.password) } }),
    tls: { rejectUnauthorized: !loopback, minVersion: "TLSv1.2", ...(isIP(host) === 0 ? { servername: host } : {}) },
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    logger: false,
    debug: false,
  };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || (isIP(h) === 4 && h.startsWith("127."));
}

/**
 * No SMTP configured: each mail becomes `<dir>/<id>.eml` (RFC 5322, as SMTP would have carried
 * it), readable by the owner only, so `npm start` works with no setup and a developer can open
 * the links. Written under another name and renamed, so it appears whole; written again on a
 * retry (same name), never appended.
 */
export function fileTransport(dir: string): MailTransport {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  const target = resolve(dir);
  return {
    kind: "file",
    async send(id, message) {
      const info = await composer.sendMail(message);
      await mkdir(target, { recursive: true, mode: 0o700 });
      // Whole or not at all: a reader of the directory never sees a half-written mail.
      const file = join(target, `${id}.eml`);
      await writeFile(`${file}.partial`, info.message as Buffer, { mode: 0o600 });
      await rename(`${file}.partial`, file);
    },
    close: () => composer.close(),
  };
}

export function customTransport(sendMail: SendMail): MailTransport {
  return { kind: "custom", send: (_id, message) => sendMail({ ...message }), close: () => {} };
}

/** What a failure may say in a log line or the outbox row: a code, never a server's text (it may quote the address). */
export function failureCode(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown } | null;
  const code = typeof e?.code === "string" && /^[A-Z0-9_]{1,32}$/.test(e.code) ? e.code : "ERROR";
  return typeof e?.responseCode === "number" ? `${code} ${e.responseCode}` : code;
}
