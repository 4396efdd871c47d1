import { Type } from "typebox";
import { EMAIL_MAX_LENGTH, PASSWORD_INPUT_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../../core/limits.js";

/** Request and response schemas of account recovery and email (docs/api.md section 8). */

const Email = Type.String({ maxLength: EMAIL_MAX_LENGTH, description: "Compared case-insensitively after trimming." });
// Loose on purpose: anything that is not one of our tokens (truncated, padded) is `400 link_invalid`.
const LinkToken = Type.String({ maxLength: 512, description: "The token from the link's fragment (`#token=...`)." });
const NewPassword = Type.String({
  maxLength: PASSWORD_INPUT_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters; the commonest passwords are refused.`,
});
const AnyPassword = Type.String({ maxLength: PASSWORD_INPUT_MAX_LENGTH });

export const EmailBody = Type.Object({ email: Email }, { additionalProperties: false });
export const ResetBody = Type.Object({ token: LinkToken, new_password: NewPassword }, { additionalProperties: false });
export const TokenBody = Type.Object({ token: LinkToken }, { additionalProperties: false });
export const ChangeEmailBody = Type.Object(
  {
    new_email: Email,
    password: AnyPassword,
    code: Type.Optional(Type.String({ maxLength: 64, description: "The second factor's code, when one is on." })),
  },
  { additionalProperties: false },
);
export const PasswordOnlyBody = Type.Object({ password: AnyPassword }, { additionalProperties: false });

/** The one answer of the requests that mail a link: the same whether or not the account exists. */
export const Accepted = Type.Object(
  { status: Type.Literal("accepted") },
  { description: "Always the same answer: whether a mail goes out is never said." },
);
export const ACCEPTED = { status: "accepted" } as const;
