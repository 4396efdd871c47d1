import { Type, type Static } from "typebox";
import type { LoginMfaInput } from "../../core/mfa/login-mfa.js";
import { PASSWORD_INPUT_MAX_LENGTH } from "../../core/limits.js";
import { endpoint, NO_BODY, type AnyEndpoint } from "../endpoint.js";
import * as S from "../schemas.js";
import * as wire from "../wire.js";

/**
 * A second factor: TOTP and recovery codes (docs/api.md section 9; core/mfa/; docs/mfa.md).
 * The sign-in step (`POST /login/mfa`) answers exactly like `POST /login`.
 */

const Code = Type.String({
  maxLength: 64,
  description: "A current 6-digit code of the authenticator app, or (where allowed) a recovery code.",
});
const Password = Type.String({ maxLength: PASSWORD_INPUT_MAX_LENGTH });

export const LoginMfaBody = Type.Object(
  { mfa_token: Type.String({ maxLength: 256, description: "The `mfa_token` of the `403 mfa_required` answer." }), code: Code },
  { additionalProperties: false },
);
export const ConfirmTotpBody = Type.Object({ code: Code, password: Password }, { additionalProperties: false });
export const SecondFactorProofBody = Type.Object({ password: Password, code: Code }, { additionalProperties: false });
export const TotpEnrolment = Type.Object({
  secret: Type.String({ description: "The base32 secret (160 bits), for typing into an authenticator app." }),
  otpauth_url: Type.String({ description: "otpauth://totp/... (SHA-1, 6 digits, 30 s)." }),
  qr_svg: Type.String({
    description: 'An SVG QR code of otpauth_url; show it as an image (`<img src="data:image/svg+xml,...">`), never as markup.',
  }),
});
export const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: "10 single-use codes of 10 base32 characters, shown once." }),
});

const loginMfaInput: wire.WireInput<Static<typeof LoginMfaBody>, LoginMfaInput> = {
  toCore: (body) => ({ mfaToken: body.mfa_token, code: body.code }),
  fields: { mfaToken: "mfa_token" },
};

const CODE_OFF = [403, ["invalid_credentials", "code_invalid"]] as const;

export const MFA_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "POST",
    path: "/login/mfa",
    access: "public",
    tags: ["auth"],
    summary: "Sign in, second step: the mfa_token and a code",
    description:
      "Answers like `POST /login`. A wrong code is `401 code_invalid`; five end the `mfa_token` (`401 mfa_token_invalid`, as for an expired or used one); at most 10 wrong codes per account per hour, then `429`.",
    body: LoginMfaBody,
    input: loginMfaInput,
    status: 200,
    response: S.authResult,
    errors: S.problems(400, [401, ["code_invalid", "mfa_token_invalid"]], [403, ["account_disabled"]], 413, 415, 429, 503),
    // Cookie mode (docs/browser.md): the tokens go into cookies, with a CSRF token.
    issuesTokens: true,
    handler: async ({ auth, body, client }) => wire.signInView(auth.profileSchema, await auth.loginMfa(body, client)),
  }),
  endpoint({
    method: "POST",
    path: "/mfa/totp",
    access: "user",
    tags: ["mfa"],
    summary: "Start a TOTP enrolment",
    description:
      "A new secret for an authenticator app; `POST /mfa/totp/confirm` turns it on. `409 mfa_enabled` while a second factor is on.",
    status: 200,
    response: TotpEnrolment,
    errors: S.problems(401, [409, ["mfa_enabled"]], 503),
    handler: async ({ auth, principal }) => {
      const e = await auth.startTotp(principal);
      return { secret: e.secret, otpauth_url: e.otpauthUrl, qr_svg: e.qrSvg };
    },
  }),
  endpoint({
    method: "POST",
    path: "/mfa/totp/confirm",
    access: "user",
    tags: ["mfa"],
    summary: "Turn TOTP on with a current code and the password",
    description: "Answers the 10 recovery codes (shown once); every other session is revoked and a notice is mailed.",
    body: ConfirmTotpBody,
    status: 200,
    response: RecoveryCodes,
    errors: S.problems([400, ["validation_failed", "code_invalid"]], 401, 403, [409, ["mfa_enabled"]], 413, 415, S.HASHING_UNAVAILABLE),
    // The flow moves the session's CSRF epoch: cookie mode re-sets the CSRF cookie (docs/browser.md).
    renewsCsrf: true,
    handler: async ({ auth, principal, body, client }) => ({ recovery_codes: await auth.confirmTotp(principal, body, client) }),
  }),
  endpoint({
    method: "DELETE",
    path: "/mfa/totp",
    access: "user",
    tags: ["mfa"],
    summary: "Turn the second factor off",
    description: "With the password and a current code or a recovery code; every other session is revoked and a notice is mailed.",
    body: SecondFactorProofBody,
    status: 204,
    response: NO_BODY("Turned off"),
    errors: S.problems(400, 401, CODE_OFF, 413, 415, 429, S.HASHING_UNAVAILABLE),
    // The flow moves the session's CSRF epoch: cookie mode re-sets the CSRF cookie (docs/browser.md).
    renewsCsrf: true,
    handler: async ({ auth, principal, body, client }) => void (await auth.disableTotp(principal, body, client)),
  }),
  endpoint({
    method: "POST",
    path: "/mfa/recovery-codes",
    access: "user",
    tags: ["mfa"],
    summary: "Issue a new set of recovery codes",
    description: "With the password and a current code or a recovery code; the earlier codes stop working.",
    body: SecondFactorProofBody,
    status: 200,
    response: RecoveryCodes,
    errors: S.problems(400, 401, CODE_OFF, 413, 415, 429, S.HASHING_UNAVAILABLE),
    handler: async ({ auth, principal, body, client }) => ({ recovery_codes: await auth.renewRecoveryCodes(principal, body, client) }),
  }),
];
