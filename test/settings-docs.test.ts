import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { configurationTable, defaultOf, meaningOf } from "../src/settings/readme.js";
import { SETTINGS, type AuthOptions, type RateLimitOptions, type Setting } from "../src/settings/table.js";

// The configuration table (docs/configuration.md, moved there from the README) says what
// src/settings.ts says: a row missing, a default or a range changed on one side only, fails here.
// To update the page, paste configurationTable().

/** Every option a program can pass to createAuth(), as the table names them. */
type AuthOptionPath = Exclude<keyof AuthOptions, "rateLimit"> | `rateLimit.${keyof RateLimitOptions}`;
type TableOption = Extract<(typeof SETTINGS)[number], { option: string }>["option"];
// Compiled by tsc (`npm run typecheck`): a row naming something that is not an option of
// AuthOptions fails the first line; an option of AuthOptions without a row fails the second.
const rowsAreOptions = {} as Record<AuthOptionPath, true> satisfies Record<TableOption, true>;
const optionsHaveRows = {} as Record<TableOption, true> satisfies Record<AuthOptionPath, true>;
void rowsAreOptions;
void optionsHaveRows;

interface ReadmeRow {
  variable: string;
  option: string;
  default: string;
  meaning: string;
}

/** The table of docs/configuration.md, one entry per row, keyed by variable (or option when none). */
function readmeTable(): Map<string, ReadmeRow> {
  const readme = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");
  const start = readme.indexOf("# Configuration\n");
  assert.equal(start, 0, 'docs/configuration.md starts with "# Configuration"');
  const end = readme.indexOf("\n## ", start + 1);
  const lines = readme
    .slice(start, end === -1 ? undefined : end)
    .split("\n")
    .filter((line) => line.startsWith("|"));
  assert.ok(lines.length > 2, "the section has a table");
  const [header, ...body] = lines.map((line) =>
    line
      .slice(1, line.trimEnd().endsWith("|") ? line.trimEnd().length - 1 : undefined)
      .split("|")
      .map((cell) => cell.trim()),
  );
  assert.deepEqual(header, ["variable", "`createAuth()` option", "default", "meaning"], "the table's columns");
  const rows = new Map<string, ReadmeRow>();
  for (const cells of body.slice(1)) {
    const [variable = "", option = "", fallback = "", meaning = ""] = cells;
    const key = keyOf(variable, option);
    assert.ok(!rows.has(key), `docs/configuration.md lists ${key} once`);
    rows.set(key, { variable, option, default: fallback, meaning });
  }
  return rows;
}

const code = (name: string | undefined) => (name === undefined ? "-" : `\`${name}\``);
const keyOf = (variable: string, option: string) => (variable !== "-" ? variable : option);

test("docs/configuration.md's table says what the settings table says", () => {
  const readme = readmeTable();
  const problems: string[] = [];
  const expected = new Set<string>();
  for (const setting of SETTINGS as readonly Setting[]) {
    const key = keyOf(code(setting.env), code(setting.option));
    expected.add(key);
    const row = readme.get(key);
    if (row === undefined) {
      problems.push(`${key}: missing from docs/configuration.md`);
      continue;
    }
    if (row.option !== code(setting.option)) problems.push(`${key}: option is ${row.option}, the table says ${code(setting.option)}`);
    if (row.default !== defaultOf(setting)) problems.push(`${key}: default is ${row.default}, the table says ${defaultOf(setting)}`);
    if (row.meaning !== meaningOf(setting))
      problems.push(`${key}: meaning (with its range) is "${row.meaning}", the table says "${meaningOf(setting)}"`);
  }
  for (const key of readme.keys()) if (!expected.has(key)) problems.push(`${key}: in docs/configuration.md, not in src/settings.ts`);
  assert.deepEqual(problems, [], `docs/configuration.md differs from src/settings.ts; its table should read:\n${configurationTable()}\n`);
});

test("docs/configuration.md's table is in the settings table's order", () => {
  const keys = [...readmeTable().keys()];
  const order = (SETTINGS as readonly Setting[]).map((s) => keyOf(code(s.env), code(s.option)));
  assert.deepEqual(keys, order);
});

test("the comparison notices a changed range, default or row", () => {
  // The check above compares rendered cells; make sure the rendering carries the limits.
  const accessTtl = (SETTINGS as readonly Setting[]).find((s) => s.option === "accessTtl")!;
  assert.match(meaningOf(accessTtl), /\(1 to 86400\)$/);
  assert.equal(defaultOf(accessTtl), "`900`");
  const changed: Setting = { ...accessTtl, kind: { type: "integer", min: 1, max: 3600 }, default: 600 };
  assert.notEqual(meaningOf(changed), meaningOf(accessTtl));
  assert.notEqual(defaultOf(changed), defaultOf(accessTtl));
  const prune = (SETTINGS as readonly Setting[]).find((s) => s.option === "pruneInterval")!;
  assert.equal(defaultOf(prune), "`3600` (`createAuth()`: `0`)", "the server's default first, the library's after it");
});
