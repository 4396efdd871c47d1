import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

// docs/library.md shows the examples as users write them: the same code, importing "tokenver",
// "tokenver/fastify" and "tokenver/express" instead of the repository's source paths. The
// examples are tested (examples.test.ts), so the snippets are as long as they are identical.

const EXAMPLES = ["examples/fastify-notes/server.ts", "examples/express-notes/server.ts"];

/** An example as the docs must show it: `from "../../src/..."; // in your app: "pkg"` -> `from "pkg";`. */
function asUserCode(source: string): string {
  return source.replace(/from "[^"]+"; \/\/ in your app: "([^"]+)"/g, 'from "$1";');
}

test("docs/library.md embeds each example verbatim, with package imports", () => {
  const docs = readFileSync("docs/library.md", "utf8");
  for (const path of EXAMPLES) {
    const match = new RegExp(`<!-- example: ${path.replaceAll(".", "\\.")} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(docs);
    assert.ok(match, `docs/library.md has no block for ${path}`);
    const source = readFileSync(path, "utf8");
    assert.match(source, /\/\/ in your app: "tokenver"/, `${path} marks its tokenver import`);
    assert.equal(match[1], asUserCode(source), `docs/library.md's copy of ${path} differs from the example`);
    assert.doesNotMatch(match[1]!, /src\//, "the snippet imports the package, not the repository");
  }
});
