import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { Type, type TSchema } from "typebox";
import { Value } from "typebox/value";
import { endpointReference, exampleOf } from "../scripts/docs/endpoint-reference.js";
import { ENDPOINTS, type AnyEndpoint } from "../src/http/endpoints.js";
import { routeSchema } from "../src/http/fastify/routes.js";
import * as S from "../src/http/schemas.js";

// docs/endpoints.md is rendered from the endpoint table (scripts/docs/endpoint-reference.ts): a row
// added, a limit, a response or an error code changed on one side only, fails here. To update the
// page, run `npm run docs:endpoints` and commit docs/endpoints.md.

const DOCS = new URL("../docs/", import.meta.url);
const NO_CUSTOM_FIELDS = Type.Object({}, { additionalProperties: false });
const keyOf = (row: AnyEndpoint) => `${row.method} ${row.path}`;

test("docs/endpoints.md is what the endpoint table renders", () => {
  const expected = endpointReference();
  const committed = readFileSync(new URL("endpoints.md", DOCS), "utf8");
  if (committed === expected) return;
  const [have, want] = [committed.split("\n"), expected.split("\n")];
  let line = 0;
  while (have[line] === want[line]) line++;
  assert.fail(
    `docs/endpoints.md is stale: run \`npm run docs:endpoints\` and commit it.\n` +
      `First difference, line ${line + 1}:\n  docs/endpoints.md: ${have[line] ?? "(end of file)"}\n  the table renders: ${want[line] ?? "(end of file)"}`,
  );
});

/** Each endpoint's section of a rendered page, by `METHOD /path`. */
function sections(page: string): Map<string, string> {
  const parts = page.split(/^### `([A-Z]+ \S+)`$/m);
  const found = new Map<string, string>();
  for (let i = 1; i < parts.length; i += 2) found.set(parts[i]!, parts[i + 1]!.split(/^## /m)[0]!);
  return found;
}

/** The codes a problem+json response of a row's `errors` names, read from the row (not from the renderer). */
function codesOf(response: object): string[] {
  const code = (response as any).content["application/problem+json"].schema.properties.code;
  return (code.anyOf ?? [code]).map((c: { const: string }) => c.const);
}

test("every row has its section: access, body fields, success status and every error code", () => {
  const page = sections(endpointReference());
  assert.deepEqual([...page.keys()].sort(), ENDPOINTS.map(keyOf).sort(), "one section per row, none other");
  for (const row of ENDPOINTS) {
    const text = page.get(keyOf(row))!;
    const name = keyOf(row);
    assert.match(text, new RegExp(`\\*\\*Success:\\*\\* \`${row.status} `), `${name}: its success status`);
    const body = row.body === undefined ? undefined : (routeSchema(row, NO_CUSTOM_FIELDS).body as { properties: object });
    for (const field of Object.keys(body?.properties ?? {})) assert.ok(text.includes(`| \`${field}\` |`), `${name}: body field ${field}`);
    for (const [status, response] of Object.entries(row.errors)) {
      const line = text.split("\n").find((l) => l.startsWith(`| ${status} | `) && !l.includes("csrf_failed"));
      assert.ok(line, `${name}: error status ${status}`);
      for (const code of codesOf(response)) assert.ok(line.includes(`\`${code}\``), `${name}: ${status} ${code}`);
    }
    assert.match(text, new RegExp(`\\*\\*Access token:\\*\\* ${row.access === "public" ? "no" : "yes"}`), `${name}: access token`);
    assert.match(text, new RegExp(`\\*\\*Admin role:\\*\\* ${row.access === "admin" ? "yes" : "no"}`), `${name}: admin role`);
    // Cookie mode's origin and CSRF checks hold for every unsafe method, whatever the row says.
    assert.equal(text.includes("| 403 | `csrf_failed` |"), row.method !== "GET", `${name}: 403 csrf_failed on unsafe methods only`);
  }
});

test("each example request and answer is valid against its row's schemas", () => {
  for (const row of ENDPOINTS) {
    const name = keyOf(row);
    const schema = routeSchema(row, NO_CUSTOM_FIELDS) as { body?: TSchema; response: Record<number, TSchema> };
    const example = exampleOf(row);
    assert.equal(example.line.split(" ")[0], row.method);
    assert.doesNotMatch(example.line, /:/, `${name}: path parameters filled in`);
    if (row.bodyType === "form") assert.ok(Value.Check(row.formParameters!, example.form), `${name}: form parameters`);
    else if (schema.body !== undefined) {
      assert.ok(Value.Check(schema.body, example.body), `${name}: request ${JSON.stringify(example.body)}`);
    } else assert.equal(example.body, undefined, `${name}: no body`);
    assert.equal(
      example.headers.some(([h, v]) => h === "Authorization" && v.startsWith("Bearer ")),
      row.access !== "public",
      name,
    );
    const answer = schema.response[row.status]!;
    if (example.response === undefined)
      assert.equal((answer as { type?: string }).type, "null", `${name}: no body only on a bodiless answer`);
    else assert.ok(Value.Check(answer, example.response), `${name}: answer ${JSON.stringify(example.response)}`);
  }
});

test("a changed row changes the page", () => {
  const login = ENDPOINTS.find((row) => keyOf(row) === "POST /login")!;
  const health = ENDPOINTS.find((row) => keyOf(row) === "GET /health")!;
  const changed = ENDPOINTS.map((row) => {
    if (row === login) return { ...row, body: Type.Object({ email: Type.String({ maxLength: 17 }) }, { additionalProperties: false }) };
    if (row === health) return { ...row, errors: S.problems(409, 503) };
    return row;
  });
  const page = sections(endpointReference(changed));
  assert.match(page.get("POST /login")!, /\| `email` \| string \| yes \| at most 17 characters \|/);
  assert.doesNotMatch(page.get("POST /login")!, /\| `password` \|/);
  assert.match(page.get("GET /health")!, /\| 409 \| `email_taken` \|/);
  assert.notEqual(endpointReference(changed), endpointReference());
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
const anchorsOf = (markdown: string) => new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]!)));

test("every link of the page leads to a heading or a shipped doc", () => {
  const page = endpointReference();
  const own = anchorsOf(page);
  const links = [...page.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  assert.ok(links.length > 40);
  for (const link of links) {
    assert.doesNotMatch(link, /^(\.\.|\/)/, `${link}: docs/*.md are shipped, nothing outside them is`);
    const [file, hash] = link.split("#") as [string, string | undefined];
    if (file === "") {
      assert.ok(own.has(hash!), `#${hash} is a heading of the page`);
      continue;
    }
    const target = new URL(file, DOCS);
    assert.ok(existsSync(target), `${file} exists in docs/`);
    if (hash !== undefined) assert.ok(anchorsOf(readFileSync(target, "utf8")).has(hash), `${file}#${hash} is a heading there`);
  }
});
