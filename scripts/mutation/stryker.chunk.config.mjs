// `npm run mutate:all` in pieces: StrykerJS over one part of src/core/ at a time, with only the
// test files that reach it (docs/mutation.md, "Running it in chunks"). A full mutate:all runs every
// in-process HTTP suite for every surviving mutant those suites reach: hours. A chunk names its
// tests itself, so a survivor costs the few fast files that reach it.
//
//   TOKENVER_MUTATE_CHUNK=tokens \
//   TOKENVER_MUTATE_TESTS="test/unit/core/tokens/*.test.ts test/unit/core/verify.test.ts" \
//   nice -n 10 npx stryker run scripts/mutation/stryker.chunk.config.mjs --mutate "src/core/tokens/**/*.ts"
//
// TOKENVER_MUTATE_TESTS: test files or globs, separated by spaces (default: test/unit/**).
// TOKENVER_MUTATE_CHUNK: the chunk's name, for its own incremental file and reports in .tmp/mutation/.
import base from "./stryker.config.mjs";

const chunk = process.env.TOKENVER_MUTATE_CHUNK ?? "chunk";
if (!/^[a-z0-9-]+$/.test(chunk)) throw new Error(`TOKENVER_MUTATE_CHUNK must be lower-case letters, digits and "-": ${chunk}`);
const tests = (process.env.TOKENVER_MUTATE_TESTS ?? "test/unit/**/*.test.ts").split(/\s+/).filter((t) => t.length > 0);

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...base,
  tap: { ...base.tap, testFiles: tests },
  incrementalFile: `.tmp/mutation/stryker-${chunk}-incremental.json`,
  // Each mutant's result as a file the moment it is known (onMutantTested), so a chunk stopped
  // before its end still tells what it found: scripts/mutation/partial.mjs sums them up.
  reporters: [...base.reporters, "event-recorder"],
  eventReporter: { baseDir: `.tmp/mutation/events-${chunk}` },
  jsonReporter: { fileName: `.tmp/mutation/mutation-${chunk}.json` },
  htmlReporter: { fileName: `.tmp/mutation/mutation-${chunk}.html` },
};
