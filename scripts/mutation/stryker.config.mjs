// StrykerJS (mutation testing) over the security core: `npm run mutate` (docs/mutation.md).
// Stryker 9: version 10 needs Node 22, and this project supports Node 20.
// Tests: node:test files run by the TAP runner, one process per file (`node --import tsx`), on
// SQLite in memory only (no TOKENVER_TEST_* URLs): the fast unit and in-process files below.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "tap",
  tap: {
    testFiles: [
      "test/unit/**/*.test.ts",
      "test/local-cache.test.ts",
      "test/logout-ownership.test.ts",
      "test/refresh-expiry.test.ts",
      "test/refresh-race.test.ts",
      "test/refresh.test.ts",
      "test/revoke-deadline.test.ts",
    ],
    nodeArgs: ["--import", "tsx", "--test-reporter=tap", "-r", "{{hookFile}}", "{{testFile}}"],
  },
  // The heart of the security core: where a request is decided, the revocation protocol, logout
  // and refresh rotation, and the node revocation cache. `npm run mutate:all`
  // (scripts/mutation/stryker.all.config.mjs) widens it to all of src/core/ and the invalidation protocol: hours on
  // two cores (docs/mutation.md).
  mutate: [
    "src/core/verify.ts",
    "src/core/revoke.ts",
    "src/core/sessions/logout.ts",
    "src/core/sessions/refresh.ts",
    "src/store/revocation/**/*.ts",
  ],
  checkers: ["typescript"],
  // The sources only: a type error in a test file (another branch's work in progress) must not stop
  // the run; the tests run through tsx, which does not type-check.
  tsconfigFile: "tsconfig.build.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: "perTest",
  // Module-level constants (error titles, limits) would each need every test file re-run in a
  // fresh process: skipped, and counted as "ignored" in the report (docs/mutation.md).
  ignoreStatic: true,
  // Two shared cores: a mutant run and the type checker at once.
  concurrency: 2,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 20,
  incremental: true,
  incrementalFile: ".tmp/mutation/stryker-incremental.json",
  tempDirName: ".tmp/stryker",
  ignorePatterns: ["dist", "bench", "data", ".tmp", "docs/*.svg"],
  reporters: ["clear-text", "progress-append-only", "json", "html"],
  jsonReporter: { fileName: ".tmp/mutation/mutation.json" },
  htmlReporter: { fileName: ".tmp/mutation/mutation.html" },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 95, low: 90, break: null },
};
