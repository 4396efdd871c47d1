// `npm run mutate:all`: StrykerJS over all of src/core/ and the revocation state and invalidation
// modules, with the in-process HTTP suites as well: many hours on two shared cores
// (docs/mutation.md, which also shows how to run it in chunks: stryker.chunk.config.mjs). The
// invalidation protocol (src/store/redis/invalidation.ts) needs Redis: its in-process unit tests
// (test/unit/store/redis/invalidation.test.ts, and invalidation-faults.test.ts for connection loss,
// refused SUBSCRIBE and late or withheld acknowledgements) run only with TOKENVER_TEST_REDIS_URL,
// which the npm script unsets, so there its mutants show as "no coverage"; run its chunk with the
// URL set (docs/mutation.md). More witnesses are in test/scale-out/ (several processes).
import base from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...base,
  tap: {
    ...base.tap,
    testFiles: [
      ...base.tap.testFiles,
      "test/second-witness.test.ts",
      "test/hash-queue.test.ts",
      "test/sessions-pagination.test.ts",
      "test/password-session-throttle.test.ts",
      "test/mfa/totp-vectors.test.ts",
      "test/sessions.test.ts",
      "test/tokens.test.ts",
      "test/password.test.ts",
      "test/profile.test.ts",
      "test/throttle.test.ts",
    ],
  },
  mutate: [
    "src/core/**/*.ts",
    "!src/core/types.ts",
    "!src/core/config.ts",
    "src/store/revocation/**/*.ts",
    "src/store/redis/invalidation.ts",
  ],
  incrementalFile: ".tmp/mutation/stryker-all-incremental.json",
  jsonReporter: { fileName: ".tmp/mutation/mutation-all.json" },
  htmlReporter: { fileName: ".tmp/mutation/mutation-all.html" },
};
