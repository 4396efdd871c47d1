import type { Setting } from "../setting.js";

/** The account-recovery options of `createAuth()` (rows below). */
export interface RecoveryOptions {
  resetTtl?: number;
  verifyTtl?: number;
  requireVerifiedEmail?: boolean;
  unverifiedTtl?: number;
}

export interface ResolvedRecoveryOptions {
  resetTtl: number;
  verifyTtl: number;
  requireVerifiedEmail: boolean;
  unverifiedTtl: number;
}

/** Account recovery and email verification (docs/api.md section 8; docs/recovery.md). */
export const RECOVERY_SETTINGS = [
  {
    option: "resetTtl",
    env: "TOKENVER_RESET_TTL",
    kind: { type: "integer", min: 60, max: 86_400 },
    default: 1800,
    doc: "seconds a password-reset link works",
  },
  {
    option: "verifyTtl",
    env: "TOKENVER_VERIFY_TTL",
    kind: { type: "integer", min: 60, max: 2_592_000 },
    default: 86_400,
    doc: "seconds an email-verification (or email-change) link works",
  },
  {
    option: "requireVerifiedEmail",
    env: "TOKENVER_REQUIRE_VERIFIED_EMAIL",
    kind: { type: "boolean" },
    default: false,
    doc: "registration issues no tokens and sign-in answers `403 email_unverified` until the address is verified; unverified accounts are pruned",
  },
  {
    option: "unverifiedTtl",
    env: "TOKENVER_UNVERIFIED_TTL",
    kind: { type: "integer", min: 3600, max: 31_536_000 },
    default: 604_800,
    doc: "with `requireVerifiedEmail`, seconds after which an account never verified is deleted by the prune",
  },
] as const satisfies readonly Setting[];
