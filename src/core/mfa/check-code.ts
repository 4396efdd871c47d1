import type { Kysely } from "kysely";
import * as mfa from "../../store/queries/mfa.js";
import type { Database } from "../../store/schema.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed, unavailable } from "../errors.js";
import { normaliseRecoveryCode, recoveryCodeHash } from "./recovery-codes.js";
import { matchingStep, openTotpSecret, TOTP_CODE } from "./totp.js";

/** How a code proved the second factor: RFC 8176 values follow from it. */
export type CodeKind = "totp" | "recovery";

/** The `amr` of a sign-in completed with this kind of code (docs/api.md section 9). */
export function amrFor(kind: CodeKind): readonly string[] {
  return kind === "totp" ? ["pwd", "otp", "mfa"] : ["pwd", "mfa"];
}

/** A code that may be right: `consume` decides, with one conditional write in the caller's transaction. */
export interface CodeCandidate {
  kind: CodeKind;
  /** The sealed secret the code was checked against (an enrolment restarted meanwhile has another). */
  sealedSecret: string;
  consume(trx: Kysely<Database>): Promise<boolean>;
}

/**
 * Checks `code` against the user's TOTP secret (`state`: the pending enrolment or the enabled
 * factor): a 6-digit code matches a time step in {T-1, T, T+1} later than the last accepted one;
 * with `allowRecovery`, a recovery code is a candidate to consume. Undefined when it cannot be right.
 */
export async function codeCandidate(
  core: Core,
  userId: string,
  code: string,
  options: { state: "pending" | "enabled"; allowRecovery: boolean },
): Promise<CodeCandidate | undefined> {
  const totp = await failClosed(() => mfa.findTotp(core.db, userId));
  if (totp === undefined || (totp.enabled_at !== null) !== (options.state === "enabled")) return undefined;
  if (TOTP_CODE.test(code)) {
    let secret: string;
    try {
      secret = openTotpSecret(core, userId, totp.secret);
    } catch (error) {
      // Sealed under another server secret: nothing can be checked; fail closed.
      throw unavailable(error);
    }
    const step = matchingStep(secret, code, core.config.clock(), totp.last_step === null ? null : Number(totp.last_step));
    if (step === undefined) return undefined;
    return { kind: "totp", sealedSecret: totp.secret, consume: (trx) => mfa.consumeStep(trx, userId, totp.secret, step, options.state) };
  }
  if (!options.allowRecovery || options.state !== "enabled") return undefined;
  const recovery = normaliseRecoveryCode(code);
  if (recovery === undefined) return undefined;
  const hash = recoveryCodeHash(core, userId, recovery);
  return {
    kind: "recovery",
    sealedSecret: totp.secret,
    consume: (trx) => mfa.consumeRecoveryCode(trx, userId, hash, isoAt(core.config.clock())),
  };
}
