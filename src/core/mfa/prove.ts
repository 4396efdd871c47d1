import type { Core } from "../context.js";
import { codeCandidate, type CodeCandidate } from "./check-code.js";
import { isCodeInvalid } from "./failure.js";

/**
 * The second factor of a change a signed-in user makes (turning the factor off, new recovery
 * codes, an email change): counts the attempt toward the account's 10 wrong codes an hour, then
 * finds the code (a current TOTP code or an unused recovery code). Wrong: `reject()`. A store that
 * did not answer gives the count back (no answer is no failure). The candidate is used up later,
 * in the change's own transaction.
 */
export async function proveSecondFactor(core: Core, userId: string, code: string, reject: () => Error): Promise<CodeCandidate> {
  await core.throttle.countSecondFactor(userId);
  let candidate: CodeCandidate | undefined;
  try {
    candidate = await codeCandidate(core, userId, code.trim(), { state: "enabled", allowRecovery: true });
  } catch (error) {
    await core.throttle.secondFactorSucceeded(userId).catch(() => {});
    throw error;
  }
  if (candidate === undefined) throw reject();
  return candidate;
}

/**
 * Runs the change that uses the proven code up; only a wrong code keeps its count (a code another
 * request used first, found inside the change), everything else gives it back.
 */
export async function settleSecondFactor<T>(core: Core, userId: string, change: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await change();
  } catch (error) {
    if (!isCodeInvalid(error)) await core.throttle.secondFactorSucceeded(userId).catch(() => {});
    throw error;
  }
  await core.throttle.secondFactorSucceeded(userId);
  return result;
}
