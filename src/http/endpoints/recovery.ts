import type { Auth } from "../../core/auth.js";
import type { RequestContext } from "../../core/types.js";
import { endpoint, NO_BODY, type AnyEndpoint } from "../endpoint.js";
import * as S from "../schemas.js";
import * as wire from "../wire.js";
import * as R from "./recovery-schemas.js";

const LINK_INVALID = [400, ["validation_failed", "bad_request", "link_invalid"]] as const;
const MAIL_REQUEST_ERRORS = S.problems(400, 413, 415, 429, 503);

/**
 * A public request that may mail a link: always `202` with the same body, whether or not an
 * account matched (no enumeration), so its row differs from its sibling's only in what it sends.
 */
function mailRequest(
  path: string,
  summary: string,
  description: string,
  send: (auth: Auth<any>, body: { email: string }, client: RequestContext) => Promise<void>,
): AnyEndpoint {
  return endpoint({
    method: "POST",
    path,
    access: "public",
    tags: ["recovery"],
    summary,
    description,
    body: R.EmailBody,
    status: 202,
    response: R.Accepted,
    errors: MAIL_REQUEST_ERRORS,
    handler: async ({ auth, body, client }) => {
      await send(auth, body, client);
      return R.ACCEPTED;
    },
  });
}

/** Account recovery and email (docs/api.md section 8; docs/recovery.md). */
export const RECOVERY_ENDPOINTS: readonly AnyEndpoint[] = [
  mailRequest(
    "/password/forgot",
    "Mail a password-reset link",
    "Always `202` with the same body, in about the same time, whether or not the account exists; a reset link goes to an " +
      "enabled account's stored address. Throttled per email and per client address (`429`).",
    (auth, body, client) => auth.forgotPassword(body, client),
  ),
  endpoint({
    method: "POST",
    path: "/password/reset",
    access: "public",
    tags: ["recovery"],
    summary: "Set a new password with a reset link",
    description:
      "Increments the token version (every access token dies), revokes every session, kills every outstanding link, marks " +
      "the address verified and mails a notice. Does not sign in. A bad, used, superseded or expired token: `400 link_invalid`.",
    body: R.ResetBody,
    input: wire.resetPasswordInput,
    status: 204,
    response: NO_BODY("Password reset"),
    errors: S.problems(LINK_INVALID, 413, 415, S.HASHING_UNAVAILABLE),
    handler: async ({ auth, body, client }) => void (await auth.resetPassword(body, client)),
  }),
  endpoint({
    method: "POST",
    path: "/email/verify",
    access: "public",
    tags: ["recovery"],
    summary: "Confirm an email address with a mailed link",
    description:
      "A registration's link marks the address verified. An email change's link switches the address, increments the " +
      "token version, revokes every session and tells the old address (`409 email_taken` if it was registered meanwhile).",
    body: R.TokenBody,
    status: 200,
    response: S.userSchema,
    errors: S.problems(LINK_INVALID, 409, 413, 415, 503),
    handler: async ({ auth, body, client }) => wire.userView(auth.profileSchema)(await auth.verifyEmail(body, client)),
  }),
  mailRequest(
    "/email/verify/resend",
    "Mail a fresh verification link",
    "Always `202` with the same body, in about the same time, whether or not an unverified account has this address. " +
      "Throttled per email and per client address (`429`).",
    (auth, body, client) => auth.resendVerification(body, client),
  ),
  endpoint({
    method: "POST",
    path: "/email",
    access: "user",
    tags: ["recovery"],
    summary: "Change the email address",
    description:
      "Checks the password (and `code`, a TOTP or recovery code, when a second factor is on: `403 code_invalid`), mails a confirmation link to the new address and a " +
      "notice with a cancel link to the old one; `POST /email/verify` with the link makes the change. Wrong password: " +
      "`403 invalid_credentials` (5 within 15 minutes revoke the session); an address in use: `409 email_taken`.",
    body: R.ChangeEmailBody,
    input: wire.changeEmailInput,
    status: 202,
    response: R.Accepted,
    errors: S.problems(400, 401, [403, ["invalid_credentials", "code_invalid"]], 409, 413, 415, 429, S.HASHING_UNAVAILABLE),
    handler: async ({ auth, principal, body, client }) => {
      await auth.changeEmail(principal, body, client);
      return R.ACCEPTED;
    },
  }),
  endpoint({
    method: "POST",
    path: "/email/cancel",
    access: "public",
    tags: ["recovery"],
    summary: "Cancel a pending email change (the link mailed to the old address)",
    description:
      "Kills the pending change, increments the token version and revokes every session. `400 link_invalid` once the " +
      "change was confirmed or the link is used or expired.",
    body: R.TokenBody,
    status: 204,
    response: NO_BODY("Cancelled"),
    errors: S.problems(LINK_INVALID, 413, 415, 503),
    handler: async ({ auth, body, client }) => void (await auth.cancelEmailChange(body, client)),
  }),
  endpoint({
    method: "DELETE",
    path: "/profile",
    access: "user",
    tags: ["profile"],
    summary: "Delete the caller's account",
    description:
      "A JSON body `{password}` on DELETE. Deletes the user, their sessions, refresh tokens and links; every token dies at " +
      "once on every node; a notice is mailed; the address may register again. Wrong password: `403 invalid_credentials`.",
    body: R.PasswordOnlyBody,
    status: 204,
    response: NO_BODY("Deleted"),
    errors: S.problems(400, 401, [403, ["invalid_credentials", "forbidden"]], 413, 415, S.HASHING_UNAVAILABLE),
    handler: async ({ auth, principal, body, client }) => void (await auth.deleteOwnAccount(principal, body, client)),
  }),
];
