import type { TSchema } from "typebox";
import type { Clock } from "./clock.js";

/** Custom user fields: a TypeBox schema per field name, e.g. `{ company: Type.String() }`. */
export type UserFields = Record<string, TSchema & object>;

export interface RateLimitOptions {
  /** Failed logins per account within the window before 429. */
  accountFailures: number;
  /** Failed logins per client address within the window before 429. */
  addressFailures: number;
  /** Window, seconds. */
  windowSeconds: number;
  /** Registrations per client address within the window before 429. */
  registrations: number;
  /** Successful logins per client address within the window before 429. */
  addressLogins: number;
}

/** What the domain needs from the resolved settings (settings.ts resolves and validates them). */
export interface CoreConfig {
  accessTtl: number;
  refreshTtl: number;
  issuer: string;
  clockTolerance: number;
  rateLimit: RateLimitOptions;
  userFields: UserFields;
  pruneInterval: number;
  /** Days security events are kept (pruned with the rest). */
  eventRetention: number;
  /** Password hashes that may wait for a thread at once; more are refused with 503 at once. */
  hashQueue: number;
  onWarning: (message: string) => void;
  clock: Clock;
  /** The address users reach the server at (no trailing slash): the base of links in mail. */
  publicUrl: string;
  /**
   * The origins allowed to make cookie-mode requests (CSRF origin check) and CORS requests: the
   * origin of `publicUrl` first, then those of `allowedOrigins` (docs/api.md section 6).
   */
  allowedOrigins: readonly string[];
  /** Seconds a refresh token rotated by `POST /token/refresh` may be presented again (0: off). */
  refreshGrace: number;
  /** Account recovery and email verification (docs/api.md section 8): link lifetimes, seconds. */
  resetTtl: number;
  verifyTtl: number;
  /** Sign-in waits for a verified address; unverified accounts older than `unverifiedTtl` seconds are pruned. */
  requireVerifiedEmail: boolean;
  unverifiedTtl: number;
}
