import { domainToASCII } from "node:url";

/**
 * The lookup key of an email address (docs/api.md section 3): its NFKC form, trimmed and
 * lower-cased, with the domain in ASCII by UTS #46 (`Bücher.example` -> `xn--bcher-kva.example`).
 * So full-width letters, NFC and NFD, and a Unicode domain and its A-label are one key, one
 * account. Registration stores the key; login, the throttle and the migration that re-keyed old
 * rows (store/migrations/0003_email_keys.ts) look it up, so all of them use this one function.
 *
 * Total: every string has a key, whether or not it is an address (core/validation.ts decides
 * that). `domainConverted` says whether the domain went through UTS #46; when it could not (no
 * `@`, a domain that is no domain name), the key keeps the folded domain, which a registration
 * refuses and a login simply does not find.
 */
export function normalizeEmailAddress(address: string): { key: string; domainConverted: boolean } {
  const folded = fold(address);
  const at = folded.lastIndexOf("@");
  if (at < 0) return { key: folded, domainConverted: false };
  const domain = asciiDomain(folded.slice(at + 1));
  if (domain === undefined) return { key: folded, domainConverted: false };
  return { key: `${folded.slice(0, at + 1)}${domain}`, domainConverted: true };
}

/** `normalizeEmailAddress(address).key`. */
export function emailKey(address: string): string {
  return normalizeEmailAddress(address).key;
}

/**
 * NFKC, lower case, trimmed, repeated until nothing changes (once is enough for every single
 * code point; the loop makes the key a fixed point for any string, so re-keying a key is a no-op).
 */
function fold(text: string): string {
  let current = text;
  for (let round = 0; round < 4; round++) {
    const next = current.normalize("NFKC").toLowerCase().trim();
    if (next === current) break;
    current = next;
  }
  return current;
}

// `domainToASCII` is the WHATWG URL host parser, not bare UTS #46: it percent-decodes
// (`x%41.com` -> `xa.com`), stops at `#`, `/` or `?` (`ex#ample.com` -> `ex`), and reads a
// numeric last label as IPv4 (`1.2.3` -> `1.2.0.3`). Only a domain of ASCII letters, digits,
// hyphens and dots, or non-ASCII text, reaches it, and only an LDH answer is taken.
const DOMAIN_INPUT = /^(?:[a-z0-9.-]|[^\x00-\x7f])+$/u;
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)\.?$/;
const LDH_DOMAIN = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

function asciiDomain(domain: string): string | undefined {
  if (!DOMAIN_INPUT.test(domain) || NUMERIC_LAST_LABEL.test(domain)) return undefined;
  const ascii = domainToASCII(domain);
  return LDH_DOMAIN.test(ascii) && !NUMERIC_LAST_LABEL.test(ascii) ? ascii : undefined;
}
