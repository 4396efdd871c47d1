// The one CoreConfig of the in-process test worlds (test/support/sqlite-core.ts,
// test/unit/core/auth/auth-world.ts): the defaults of docs/api.md with the prune timer off, a
// small hashing queue and warnings collected; each world names what it changes.
import type { CoreConfig } from "../../src/core/config.js";

export function testCoreConfig(clock: () => number, warnings: string[], config: Partial<CoreConfig> = {}): CoreConfig {
  return {
    accessTtl: 900,
    refreshTtl: 30 * 86_400,
    issuer: "tokenver-test",
    clockTolerance: 0,
    rateLimit: { accountFailures: 10, addressFailures: 50, windowSeconds: 900, registrations: 20, addressLogins: 100 },
    userFields: {},
    pruneInterval: 0,
    eventRetention: 90,
    hashQueue: 8,
    onWarning: (message) => warnings.push(message),
    clock,
    publicUrl: "http://localhost:3000",
    allowedOrigins: ["http://localhost:3000"],
    refreshGrace: 0,
    resetTtl: 3600,
    verifyTtl: 86_400,
    requireVerifiedEmail: false,
    unverifiedTtl: 7 * 86_400,
    ...config,
  };
}
