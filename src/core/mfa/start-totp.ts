import { isForeignKeyViolation } from "../../store/database.js";
import QRCode from "qrcode";
import * as mfa from "../../store/queries/mfa.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { findSignedInUser } from "../passwords/confirm-password.js";
import type { Principal } from "../types.js";
import { newTotpSecret, otpauthUrl, sealTotpSecret } from "./totp.js";

/** What `POST /mfa/totp` answers: the secret in three forms, for the user's authenticator app. */
export interface TotpEnrolment {
  /** Base32, 32 characters (160 bits). */
  secret: string;
  otpauthUrl: string;
  /** An SVG QR code of `otpauthUrl` (untrusted markup for a page: show it as an `<img>`). */
  qrSvg: string;
}

/**
 * Starts an enrolment: a new secret, kept sealed and pending until `confirmTotp` turns it on
 * (a second start replaces a pending secret). `409 mfa_enabled` while a second factor is on.
 */
export async function startTotp(core: Core, principal: Principal): Promise<TotpEnrolment> {
  const user = await findSignedInUser(core, principal);
  if (user.mfa_enabled_at !== null) throw mfaEnabled();
  const secret = newTotpSecret();
  const started = await failClosed(() =>
    mfa.upsertPendingTotp(core.db, user.id, sealTotpSecret(core, user.id, secret), isoAt(core.config.clock())).catch((error: unknown) => {
      // The account was deleted meanwhile, which revoked every token of it.
      if (isForeignKeyViolation(error)) throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
      throw error;
    }),
  );
  if (!started) throw mfaEnabled();
  const url = otpauthUrl(core.config.issuer, user.email, secret);
  const qrSvg = await QRCode.toString(url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return { secret, otpauthUrl: url, qrSvg };
}

function mfaEnabled(): AuthError {
  return new AuthError("mfa_enabled", "A second factor is already on; turn it off first to enrol again.");
}
