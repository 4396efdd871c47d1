import type { CounterStore } from "../store/counters/counter-store.js";
import type { RateLimitOptions } from "./config.js";
import { AuthError, failClosed } from "./errors.js";

/**
 * Re-checks of the password by a signed-in user (docs/api.md section 8): this many failures of
 * one session within the window revoke that session. Fixed by the contract.
 */
export const RECHECK_FAILURES = 5;
export const RECHECK_WINDOW_SECONDS = 15 * 60;
/** Introspection requests one service client may make per minute (docs/keys.md). */
export const INTROSPECTIONS_PER_MINUTE = 6000;

/** Wrong second-factor codes per account per hour, across challenges (docs/api.md section 9). */
export const SECOND_FACTOR_FAILURES = 10;
export const SECOND_FACTOR_WINDOW_SECONDS = 60 * 60;

/** What a session's re-check counter said about one attempt. */
export type RecheckAttempt =
  /** Counted; `failuresIfWrong` is how many failures the window holds if this one is wrong too. */
  | { allowed: true; failuresIfWrong: number }
  /** The session already spent its allowance (failures, or attempts still in flight): revoke it. */
  | { allowed: false };

/**
 * Throttling in fixed windows, on the shared counters when there are any:
 * - logins, per account and per client address: failures against `accountFailures` and
 *   `addressFailures`, successes per address against the higher `addressLogins`;
 * - registrations per client address (`registrations`): each one costs an argon2id hash;
 * - re-checks of the password by a signed-in user (`POST /password`, and later `POST /email`,
 *   `DELETE /profile`, the second-factor changes), per session only, so failed logins that
 *   others make against the account never block them.
 *
 * Every attempt is counted before its password is checked (or hashed), so parallel attempts
 * cannot all pass a check made before any of them ended.
 */
export class Throttle {
  readonly #counters: CounterStore;
  readonly #limits: RateLimitOptions;

  constructor(counters: CounterStore, limits: RateLimitOptions) {
    this.#counters = counters;
    this.#limits = limits;
  }

  /**
   * Counts a login attempt before the password is checked; 429 once the account or the address
   * is over a limit. The attempt is counted both as a failure and as a success of its address
   * (and as a failure of its account); its outcome (`succeeded` or `failed`) then gives back the
   * count that does not apply. So parallel attempts cannot overtake either address limit, and
   * successes never use up the failures' allowance nor failures the successes'.
   */
  async countAttempt(email: string, ip: string | undefined): Promise<void> {
    const { accountFailures, addressFailures, addressLogins, windowSeconds } = this.#limits;
    // The address first: once it is over its limit it cannot create (or flush) account counters.
    // A refused attempt counts nothing (it checks no password): whatever it counted on the way
    // is given back before it answers 429.
    if (ip !== undefined) {
      const failures = await this.#hit(addressFailuresKey(ip), windowSeconds, addressFailures);
      if (!failures.counted) throw rateLimited(failures.retryAfter);
      const logins = await this.#hit(addressLoginsKey(ip), windowSeconds, addressLogins);
      if (!logins.counted) {
        await this.#release(addressFailuresKey(ip));
        throw rateLimited(logins.retryAfter, "Too many logins from this address; try again later.");
      }
    }
    const account = await this.#hit(accountKey(email), windowSeconds, accountFailures);
    if (!account.counted) {
      if (ip !== undefined) await Promise.all([this.#release(addressFailuresKey(ip)), this.#release(addressLoginsKey(ip))]);
      throw rateLimited(account.retryAfter);
    }
  }

  /** The password was right: the account starts afresh, and the address keeps this as a success only. */
  async succeeded(email: string, ip: string | undefined): Promise<void> {
    await failClosed(() => this.#counters.reset(accountKey(email)));
    if (ip !== undefined) await this.#release(addressFailuresKey(ip));
  }

  /**
   * The password was right but a second factor is still due: the address keeps it as a success
   * only; the account's count stays (a failure until the sign-in completes: `accountSucceeded`).
   */
  async passwordAccepted(ip: string | undefined): Promise<void> {
    if (ip !== undefined) await this.#release(addressFailuresKey(ip));
  }

  /** A sign-in completed (its second factor too): the account starts afresh. */
  async accountSucceeded(email: string): Promise<void> {
    await failClosed(() => this.#counters.reset(accountKey(email)));
  }

  /** The password was wrong: it stays a failure of the account and the address, and is no success. */
  async failed(ip: string | undefined): Promise<void> {
    if (ip !== undefined) await this.#release(addressLoginsKey(ip));
  }

  /**
   * Counts a registration of the address before its password is hashed; 429 beyond
   * `registrations` per window. Without an address (a library call without a context) there is
   * nothing to count by.
   */
  async countRegistration(ip: string | undefined): Promise<void> {
    if (ip === undefined) return;
    const { registrations, windowSeconds } = this.#limits;
    const hit = await this.#hit(registrationsKey(ip), windowSeconds, registrations);
    if (!hit.counted) throw rateLimited(hit.retryAfter, "Too many registrations from this address; try again later.");
  }

  /**
   * Counts a request that mails a link to an account (`POST /password/forgot`, `POST
   * /email/verify/resend`: `kind` keeps their counters apart), per email as typed (its lookup key)
   * and per client address, with the login limits (`accountFailures`, `addressFailures`); 429
   * beyond either. Every request counts, whether or not the account exists, so the answer tells
   * nothing about it. A refused request gives back what it counted on the way.
   */
  async countMailRequest(kind: "forgot" | "resend", email: string, ip: string | undefined): Promise<void> {
    const { accountFailures, addressFailures, windowSeconds } = this.#limits;
    const addressKey = `${kind}:address:${ip}`;
    if (ip !== undefined) {
      const address = await this.#hit(addressKey, windowSeconds, addressFailures);
      if (!address.counted) throw rateLimited(address.retryAfter, "Too many requests from this address; try again later.");
    }
    const account = await this.#hit(`${kind}:account:${email}`, windowSeconds, accountFailures);
    if (!account.counted) {
      if (ip !== undefined) await this.#release(addressKey);
      throw rateLimited(account.retryAfter, "Too many requests for this address; try again later.");
    }
  }

  /**
   * Counts a re-check of the password by the signed-in user of `sessionId`, before the password is
   * checked. Only the session's own failures count: neither the account's failed logins nor the
   * address's, which others can cause, take part.
   */
  async countRecheck(sessionId: string): Promise<RecheckAttempt> {
    const hit = await this.#hit(recheckKey(sessionId), RECHECK_WINDOW_SECONDS, RECHECK_FAILURES);
    return hit.counted ? { allowed: true, failuresIfWrong: hit.count } : { allowed: false };
  }

  /** The re-check was right (or got no answer): it gives its count back, as only failures count. */
  async releaseRecheck(sessionId: string): Promise<void> {
    await this.#release(recheckKey(sessionId));
  }

  /**
   * Counts an attempt at a second-factor code of the account `userId` before it is checked: at
   * most `SECOND_FACTOR_FAILURES` wrong codes per account per hour, across every challenge and
   * endpoint (docs/api.md section 9), then 429. A right code gives its count back.
   */
  async countSecondFactor(userId: string): Promise<void> {
    const hit = await this.#hit(secondFactorKey(userId), SECOND_FACTOR_WINDOW_SECONDS, SECOND_FACTOR_FAILURES);
    if (!hit.counted) throw rateLimited(hit.retryAfter, "Too many wrong codes for this account; try again later.");
  }

  /** The code was right (or got no answer): only failures count. */
  async secondFactorSucceeded(userId: string): Promise<void> {
    await this.#release(secondFactorKey(userId));
  }

  /** A wrong second-factor code at sign-in counts toward the account's login throttle too. */
  async secondFactorFailed(email: string): Promise<void> {
    const { accountFailures, windowSeconds } = this.#limits;
    await this.#hit(accountKey(email), windowSeconds, accountFailures);
  }

  /** Counts an introspection request of a service client: 429 beyond `INTROSPECTIONS_PER_MINUTE`. */
  async countIntrospection(clientId: string): Promise<void> {
    const hit = await this.#hit(`introspect:client:${clientId}`, 60, INTROSPECTIONS_PER_MINUTE);
    if (!hit.counted) throw rateLimited(hit.retryAfter, "Too many introspection requests; try again later.");
  }

  /** Counts a failed client authentication of the address (as failed logins are): 429 beyond `addressFailures`. */
  async countClientFailure(ip: string | undefined): Promise<void> {
    if (ip === undefined) return;
    const hit = await this.#hit(`introspect:address:${ip}`, this.#limits.windowSeconds, this.#limits.addressFailures);
    if (!hit.counted) throw rateLimited(hit.retryAfter);
  }

  close(): Promise<void> {
    return this.#counters.close();
  }

  #hit(key: string, windowSeconds: number, limit: number) {
    return failClosed(() => this.#counters.hit(key, windowSeconds, limit));
  }

  #release(key: string): Promise<void> {
    return failClosed(() => this.#counters.release(key));
  }
}

function accountKey(email: string): string {
  return `login:account:${email}`;
}

function addressFailuresKey(ip: string): string {
  return `login:address:${ip}`;
}

function addressLoginsKey(ip: string): string {
  return `login:address-success:${ip}`;
}

function registrationsKey(ip: string): string {
  return `register:address:${ip}`;
}

function secondFactorKey(userId: string): string {
  return `mfa:account:${userId}`;
}

function recheckKey(sessionId: string): string {
  return `recheck:session:${sessionId}`;
}

function rateLimited(retryAfter: number, detail = "Too many failed attempts; try again later."): AuthError {
  return new AuthError("rate_limited", detail, { retryAfter: Math.max(1, retryAfter) });
}
