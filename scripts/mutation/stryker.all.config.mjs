// `npm run mutate:all`: StrykerJS over all of src/core/ and the revocation state and invalidation
// modules, with the in-process HTTP suites as well: hours on two cores (docs/mutation.md). The
// invalidation protocol (src/store/redis/invalidation.ts) is exercised by test/scale-out/ only
// (several processes and Redis faults: too slow for a run per mutant), so its mutants show as
// "no coverage" here; test/scale-out/node-cache.test.ts is the witness for them.
import base from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...base,
  tap: {
    ...base.tap,
    testFiles: [
      ...base.tap.testFiles,
      "test/second-witness.test.ts",
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
