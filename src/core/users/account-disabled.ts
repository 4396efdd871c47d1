import { AuthError } from "../errors.js";

/** `403 account_disabled`: sign-in and refresh of an account an administrator disabled. */
export function accountDisabled(): AuthError {
  return new AuthError("account_disabled", "An administrator disabled this account.");
}
