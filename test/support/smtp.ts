import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

/** A mail as the test SMTP server received it over the wire, parsed. */
export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  parsed: ParsedMail;
}

export interface TestSmtp {
  /** `smtp://user:pass@127.0.0.1:<port>` (with the credentials the server accepts). */
  url: string;
  port: number;
  received: ReceivedMail[];
  /** Refuse the next `n` mails with a temporary failure (451). */
  refuseNext(n: number): void;
  /** Resolves once `n` mails have arrived in all (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** The mails to `address` so far. */
  to(address: string): ReceivedMail[];
  close(): Promise<void>;
}

export const SMTP_USER = "mailer";
export const SMTP_PASSWORD = "smtp-test-password-Zq8";

/**
 * A real SMTP server in the test process (smtp-server), requiring AUTH, receiving what tokenver
 * sends over the wire; mails are parsed with mailparser. It offers STARTTLS with smtp-server's own
 * self-signed certificate, which tokenver accepts only because the host is a loopback address.
 */
export async function startSmtp(options: Partial<SMTPServerOptions> & { host?: string } = {}): Promise<TestSmtp> {
  const { host = "127.0.0.1", ...serverOptions } = options;
  const received: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  let refusals = 0;
  const server = new SMTPServer({
    allowInsecureAuth: true,
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (refusals > 0) {
          refusals--;
          callback(Object.assign(new Error("Try again later"), { responseCode: 451 }));
          return;
        }
        simpleParser(Buffer.concat(chunks)).then(
          (parsed) => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : "",
              parsed,
            });
            callback();
            for (const wake of waiters.splice(0)) wake();
          },
          (error: Error) => callback(error),
        );
      });
    },
    ...serverOptions,
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@${host}:${port}`,
    port,
    received,
    refuseNext: (n) => void (refusals = n),
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} mails, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100).unref();
        });
      }
      return received;
    },
    to: (address) => received.filter((m) => m.to.includes(address)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The link of a mail's plain-text part: a line of its own that starts with the base URL. */
export function linkIn(mail: ReceivedMail, base: string): string {
  const lines = mail.text.split(/\r?\n/).filter((line) => line.startsWith(base));
  if (lines.length !== 1) throw new Error(`expected one link line, found ${lines.length}`);
  return lines[0]!.trim();
}

/** The token of a link's fragment (`#token=...`). */
export function tokenOf(link: string): string {
  const token = new URL(link).hash.match(/^#token=([A-Za-z0-9_-]+)$/)?.[1];
  if (token === undefined) throw new Error("no #token= fragment in the link");
  return token;
}
