/**
 * The members of the contract's user object (docs/api.md sections 1, 8, 9, 10), sorted: every
 * suite that checks a user's shape compares with this one list, so a new built-in field changes
 * one line.
 */
export const USER_KEYS: readonly string[] = [
  "created_at",
  "disabled",
  "email",
  "email_verified",
  "id",
  "mfa_enabled",
  "recovery_codes_left",
  "role",
  "token_version",
  "username",
];
