import { linkIn, tokenOf, type ReceivedMail, type TestSmtp } from "./smtp.js";

/** Waits for the `n`th mail to `address` whose subject contains `subject`; returns it. */
export async function mailTo(smtp: TestSmtp, address: string, subject: string, n = 1, timeoutMs = 10_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = smtp.to(address).filter((m) => m.subject.includes(subject));
    if (found.length >= n) return found[n - 1]!;
    if (Date.now() > deadline) throw new Error(`no mail "${subject}" #${n} to ${address} (got ${smtp.to(address).map((m) => m.subject)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How many mails to `address` whose subject contains `subject` have arrived. */
export function countMail(smtp: TestSmtp, address: string, subject: string): number {
  return smtp.to(address).filter((m) => m.subject.includes(subject)).length;
}

/** The token of the link in a mail, checking the link's base and page. */
export function linkToken(mail: ReceivedMail, base: string, page: string): string {
  const link = linkIn(mail, base);
  if (!link.startsWith(`${base}${page}#token=`)) throw new Error(`unexpected link ${link.slice(0, base.length + page.length + 8)}`);
  return tokenOf(link);
}

export const RESET = "Reset your password";
export const VERIFY = "Confirm your email address";
