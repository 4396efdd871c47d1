import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";

// The README and docs/*.md are shipped in the package (`files` in package.json) and read on GitHub:
// a relative link must lead to a file the package ships (docs/*.md, *.png, *.svg, README, LICENSE,
// CHANGELOG) and an anchor to a heading of that file. Moving a section (issue 20: the server's
// reference out of the README) breaks no link.

const ROOT = join(import.meta.dirname, "..");
const SHIPPED = /^(docs\/[^/]+\.(md|png|svg|json)|README\.md|LICENSE|CHANGELOG\.md)$/;

/** Markdown without its fenced code blocks (a `#` comment there is no heading, a `](` no link). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, "");

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

function anchorsOf(file: string): Set<string> {
  return new Set([...prose(readFileSync(join(ROOT, file), "utf8")).matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]!)));
}

const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

test("every relative link of the README and docs/*.md leads to a shipped file and an existing heading", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const [, link] of prose(readFileSync(join(ROOT, page), "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?|mailto):/.test(link!)) continue;
      checked++;
      const [path, hash] = link!.split("#") as [string, string | undefined];
      const target = path === "" ? page : relative(ROOT, normalize(join(ROOT, dirname(page), path)));
      if (!SHIPPED.test(target) || !existsSync(join(ROOT, target))) broken.push(`${page}: ${link} (not a shipped file)`);
      else if (hash !== undefined && target.endsWith(".md") && !anchorsOf(target).has(hash))
        broken.push(`${page}: ${link} (no such heading)`);
    }
  }
  assert.ok(checked > 100, `only ${checked} links found`);
  assert.deepEqual(broken, []);
});

test("the README keeps the library first and links the reference pages it moved", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
  assert.equal(headings[0], "Quick start: in your app");
  assert.match(readme, /npm install tokenver/);
  for (const page of ["docs/library.md", "docs/endpoints.md", "docs/configuration.md", "docs/server.md"]) {
    assert.ok(readme.includes(`](${page})`), `README links ${page}`);
  }
});
