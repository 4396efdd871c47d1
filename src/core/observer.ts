import { isAuthError } from "./errors.js";

/**
 * What the domain reports as it works, for metrics (src/metrics/). Every hook takes only a label
 * from a fixed set (an outcome, an error code, a kind) or a duration: never user data.
 */
export interface Observer {
  /** One `verify()`: `ok` or the error code. */
  verified(result: string): void;
  /** One login attempt: `ok` or the error code. */
  loggedIn(result: string): void;
  /** One committed revocation: `user` (a version bump: every token of the user) or `session`. */
  revoked(kind: "user" | "session", seconds: number): void;
  /** One revocation-state lookup of the node cache: answered from memory, or read through. */
  cacheLookup(hit: boolean): void;
  /** One argon2 run (hash or verification), without the wait for a thread. */
  passwordHashed(seconds: number): void;
}

/**
 * The default: observes nothing. Code on the verify path checks for it and installs no hook at all,
 * so a library without metrics runs exactly the code it ran before.
 */
export const NO_OBSERVER: Observer = Object.freeze({
  verified() {},
  loggedIn() {},
  revoked() {},
  cacheLookup() {},
  passwordHashed() {},
});

/** The label of an outcome: an AuthError's code, `internal_error` for anything else. */
export function resultOf(error: unknown): string {
  return isAuthError(error) ? error.code : "internal_error";
}

/** `operation`, reporting each outcome to `report`: unchanged when nothing observes. */
export function observed<A extends unknown[], R>(
  operation: (...args: A) => Promise<R>,
  observer: Observer,
  report: (observer: Observer, result: string) => void,
): (...args: A) => Promise<R> {
  if (observer === NO_OBSERVER) return operation;
  return (...args) =>
    operation(...args).then(
      (value) => {
        report(observer, "ok");
        return value;
      },
      (error: unknown) => {
        report(observer, resultOf(error));
        throw error;
      },
    );
}
