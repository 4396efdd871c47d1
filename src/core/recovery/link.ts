import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import * as links from "../../store/queries/links.js";
import * as users from "../../store/queries/users.js";
import type { Database, LinkPurpose } from "../../store/schema.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError } from "../errors.js";

/**
 * The tokens of mailed links (docs/api.md section 8): 256 random bits as base64url (43
 * characters), stored only as their SHA-256, bound to one user, one purpose, the account's address
 * and token version when made. Looked up by the hash (the token's own entropy makes that lookup
 * reveal nothing worth timing) and used up by one conditional DELETE (store/queries/links.ts).
 */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Where each link points: a page that takes the token from the fragment and posts it on a click. */
export const LINK_PATHS = {
  reset: "/account/reset",
  verify: "/account/verify",
  email_change: "/account/verify",
  email_cancel: "/account/cancel-email",
} as const satisfies Record<LinkPurpose, string>;

export function hashLinkToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The hash of a token as sent, or `link_invalid` for anything that cannot be one of ours. */
export function linkTokenHash(token: unknown): string {
  if (typeof token !== "string" || !TOKEN.test(token)) throw linkInvalid();
  return hashLinkToken(token);
}

export function linkInvalid(): AuthError {
  return new AuthError("link_invalid", "The link is unknown, used, superseded or expired.");
}

export interface LinkFor {
  userId: string;
  purpose: LinkPurpose;
  /** The account's stored address now. */
  email: string;
  newEmail?: string;
  tokenVersion: number;
  /** Seconds it works. */
  ttl: number;
  /** The user's earlier links of these purposes die (default: its own purpose). */
  supersedes?: readonly LinkPurpose[];
}

/** Stores a new link in `trx` (superseding the older) and returns its URL: the public URL, the page, `#token=`. */
export async function issueLink(core: Core, trx: Kysely<Database>, link: LinkFor): Promise<string> {
  // The user's row before its links, as the flows that use a link up take them (a reset holding
  // the user's row waits for the link this deletes; this insert waits for the user's row).
  await users.lockUser(trx, core.dialect, link.userId);
  const token = randomBytes(32).toString("base64url");
  const nowMs = core.config.clock();
  await links.insertLink(
    trx,
    {
      token_hash: hashLinkToken(token),
      user_id: link.userId,
      purpose: link.purpose,
      email: link.email,
      new_email: link.newEmail ?? null,
      token_version: link.tokenVersion,
      now: isoAt(nowMs),
      expires_at: isoAt(nowMs + link.ttl * 1000),
    },
    link.supersedes,
  );
  return `${core.config.publicUrl}${LINK_PATHS[link.purpose]}#token=${token}`;
}

/** Whether a link still holds for the account as it is: same address, same token version. */
export function linkMatches(link: links.LinkRow, user: { email: string; token_version: number } | undefined): boolean {
  return user !== undefined && user.email === link.email && user.token_version === link.token_version;
}
