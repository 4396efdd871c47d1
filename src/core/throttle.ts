import type { CounterStore } from "../store/counters/counter-store.js";
import type { RateLimitOptions } from "./config.js";
import { AuthError, failClosed } from "./errors.js";

/**
 * Throttling of password checks (logins, and the current password of a password change): per
 * account and per client address, in fixed windows, on the shared counters when there are any.
 */
export class LoginThrottle {
  readonly #counters: CounterStore;
  readonly #limits: RateLimitOptions;

  constructor(counters: CounterStore, limits: RateLimitOptions) {
    this.#counters = counters;
    this.#limits = limits;
  }

  /**
   * Counts this attempt before the password is checked, so parallel guesses cannot all pass a
   * check made before any of them failed; 429 once the account or the address is over its limit.
   */
  async countAttempt(email: string, ip: string | undefined): Promise<void> {
    const { accountFailures, addressFailures, windowSeconds } = this.#limits;
    // The address first: once it is over its limit it cannot create (or flush) account counters.
    // A refused attempt counts nothing (it checks no password): a burst of correct logins from one
    // address (a NAT, a proxy) that filled the window while in flight leaves it usable once they
    // have succeeded and given their counts back.
    if (ip !== undefined) {
      const address = await failClosed(() => this.#counters.hit(addressKey(ip), windowSeconds, addressFailures));
      if (!address.counted) throw rateLimited(address.retryAfter);
    }
    const account = await failClosed(() => this.#counters.hit(accountKey(email), windowSeconds, accountFailures));
    if (!account.counted) {
      if (ip !== undefined) await failClosed(() => this.#counters.release(addressKey(ip)));
      throw rateLimited(account.retryAfter);
    }
  }

  /** The password was right: the account starts afresh and the address gets its attempt back (only failures count). */
  async succeeded(email: string, ip: string | undefined): Promise<void> {
    await failClosed(() => this.#counters.reset(accountKey(email)));
    if (ip !== undefined) await failClosed(async () => this.#counters.release(addressKey(ip)));
  }

  close(): Promise<void> {
    return this.#counters.close();
  }
}

function accountKey(email: string): string {
  return `login:account:${email}`;
}

function addressKey(ip: string): string {
  return `login:address:${ip}`;
}

function rateLimited(retryAfter: number): AuthError {
  return new AuthError("rate_limited", "Too many failed attempts; try again later.", { retryAfter: Math.max(1, retryAfter) });
}
