/**
 * Checks a recorded history again, or one written by hand:
 *
 *   node --import tsx scripts/campaign/check.ts .tmp/campaign/<run>/history.jsonl [--all]
 *
 * Exit code: 0 clean, 1 violations, 2 unreadable history.
 */
import { readFileSync } from "node:fs";
import { check } from "./checker.js";
import { HistoryError, parseHistory } from "./history.js";
import { formatSummary, summarize } from "./summary.js";

const [file, flag] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node --import tsx scripts/campaign/check.ts <history.jsonl> [--all]");
  process.exit(2);
}
try {
  const { operations, faults } = parseHistory(readFileSync(file, "utf8"));
  const result = check(operations);
  console.log(formatSummary(summarize(operations, faults), result));
  if (flag === "--all") for (const v of [...result.violations, ...result.anomalies]) console.log(JSON.stringify(v));
  process.exit(result.ok ? 0 : 1);
} catch (error) {
  if (error instanceof HistoryError) {
    console.error(`check: ${file}: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
