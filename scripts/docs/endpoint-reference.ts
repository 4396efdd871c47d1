/**
 * The endpoint reference (docs/endpoints.md), rendered from the endpoint table (src/http/endpoints.ts
 * and src/http/endpoints/<capability>.ts) through the same route schemas that Fastify validates with
 * and the OpenAPI document shows (`routeSchema` of src/http/fastify/routes.ts): bodies, limits,
 * responses and error codes are read, never written twice. `npm run docs:endpoints` writes it;
 * test/endpoint-reference.test.ts fails when the committed file differs from what this renders.
 */
import { STATUS_CODES } from "node:http";
import { Type, type TSchema } from "typebox";
import { BODY_LIMIT_BYTES } from "../../src/core/limits.js";
import { ERRORS, type ErrorCode } from "../../src/core/errors.js";
import { ENDPOINT_HEADERS, ENDPOINTS, type AnyEndpoint } from "../../src/http/endpoints.js";
import { routeSchema } from "../../src/http/fastify/routes.js";
import { ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE } from "../../src/http/browser/cookies.js";
import { problemSchema, userSchema } from "../../src/http/schemas.js";
import { SecurityEvent } from "../../src/http/endpoints/events-schemas.js";

/** A JSON Schema as plain data (TypeBox schemas are JSON Schema). */
type Schema = Record<string, any>;

/** The reference shows the built-in fields; an application's `userFields` are added where the row says so. */
const NO_CUSTOM_FIELDS = Type.Object({}, { additionalProperties: false });

/** Each tag of the table (a capability), its title and the page that explains it. A new tag needs a line here. */
const TAGS: Record<string, { title: string; doc?: string }> = {
  auth: { title: "Sign-up, sign-in and tokens", doc: "[security.md](security.md)" },
  profile: { title: "Profile", doc: "[library.md](library.md#custom-user-fields) (custom user fields)" },
  sessions: { title: "Sessions", doc: "[security.md](security.md#what-each-revocation-kills)" },
  operations: { title: "Operations", doc: "[operations.md](operations.md)" },
  mfa: { title: "Second factor", doc: "[mfa.md](mfa.md)" },
  events: { title: "Security events", doc: "[operations.md](operations.md#events-and-webhooks)" },
  admin: { title: "Administration", doc: "[operations.md](operations.md#admin-api)" },
  recovery: { title: "Account recovery and email", doc: "[recovery.md](recovery.md)" },
  keys: { title: "Signing keys and introspection", doc: "[keys.md](keys.md)" },
};

/** Objects that many answers carry: described once, linked from each field that holds one. */
const NAMED: ReadonlyArray<{ name: string; schema: Schema; intro: string }> = [
  {
    name: "User",
    schema: plain(userSchema(NO_CUSTOM_FIELDS)),
    intro:
      "The `user` of an answer: the built-in fields below, then the custom user fields the application configured " +
      "(`userFields`, [library.md](library.md#custom-user-fields)) under their own names. Never a password hash or a secret.",
  },
  {
    name: "SecurityEvent",
    schema: plain(SecurityEvent),
    intro: "One security event ([operations.md](operations.md#security-events)).",
  },
];

const USER_ID = "0b6c4a1e-5d2f-4f7a-9a51-2f6f1c3e8d47";
const SESSION_ID = "7e1d2c9b-3a4f-4b8e-8c6d-5f0a1b2c3d4e";
const AT = "2026-12-01T09:30:00.000Z";
const IAT = 1796117400;

/** Example values by field name; other fields get a value of their schema's type. */
const SAMPLES: Record<string, unknown> = {
  email: "ada@example.com",
  new_email: "ada@example.org",
  password: "correct horse battery staple",
  current_password: "correct horse battery staple",
  new_password: "a longer passphrase, newly chosen",
  username: "Ada",
  refresh: "<refresh token>",
  access: "<access token>",
  csrf_token: "<CSRF token>",
  mfa_token: "<mfa_token of the 403 mfa_required answer>",
  code: "123456",
  token: "<token from the link>",
  user_id: USER_ID,
  session_id: SESSION_ID,
  sub: USER_ID,
  sid: SESSION_ID,
  jti: "5b0f7a52-1c9e-4d3b-9e8f-2a6c4d1e0f93",
  iss: "tokenver",
  issuer: "tokenver",
  jwks_uri: "https://auth.example.com/.well-known/jwks.json",
  introspection_endpoint: "https://auth.example.com/introspect",
  user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
  ip: "203.0.113.7",
  type: "login.succeeded",
  actor: "self",
  secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
  otpauth_url: "otpauth://totp/tokenver:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=tokenver",
  qr_svg: '<svg xmlns="http://www.w3.org/2000/svg" ...>...</svg>',
  recovery_codes: "7KQ2M9XW4B",
  amr: "pwd",
  next_cursor: null,
  expires_in: 900,
  token_version: 0,
  recovery_codes_left: 0,
  iat: IAT,
  exp: IAT + 900,
  current: true,
  active: true,
};

/** Where a generated example would mislead (a JWK with the fields of every key type at once): written here, checked by the test. */
const EXAMPLES: Record<string, { response?: unknown }> = {
  "GET /.well-known/jwks.json": {
    response: {
      keys: [{ kty: "OKP", kid: "k-2026-12-01-a1b2", alg: "EdDSA", use: "sig", crv: "Ed25519", x: "<base64url public key>" }],
    },
  },
};

export interface Example {
  /** `METHOD /path` with its parameters filled in. */
  line: string;
  headers: Array<[string, string]>;
  /** The request body: JSON, or the form's parameters; undefined for none. */
  body?: unknown;
  form?: Record<string, string>;
  status: number;
  responseHeaders: Array<[string, string]>;
  /** The success body; undefined for none (204). */
  response?: unknown;
}

/** A row's example request and success response, from its schemas (the test checks each against them). */
export function exampleOf(row: AnyEndpoint): Example {
  const schema = routeSchema(row, NO_CUSTOM_FIELDS) as Schema;
  const path = row.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) =>
    name === "id" && row.path.startsWith("/sessions") ? SESSION_ID : USER_ID,
  );
  const headers: Array<[string, string]> = [];
  if (row.access !== "public") headers.push(["Authorization", "Bearer <access token>"]);
  const example: Example = { line: `${row.method} ${path}`, headers, status: row.status, responseHeaders: [] };
  if (row.bodyType === "form") {
    headers.push(["Authorization", "Basic <base64 of client_id:client_secret>"]);
    headers.push(["Content-Type", "application/x-www-form-urlencoded"]);
    example.form = { token: "<access token>" };
  } else if (row.body !== undefined) {
    headers.push(["Content-Type", "application/json"]);
    example.body = sample(plain(schema.body), "", "request");
  }
  const success = plain(schema.response[row.status]);
  // A token-issuing row answers either shape: the example shows bearer mode, the default.
  const shape = row.issuesTokens ? success.anyOf[0] : success;
  if (shape.type !== "null") {
    example.responseHeaders.push(["Content-Type", "application/json"]);
    example.response = EXAMPLES[`${row.method} ${row.path}`]?.response ?? sample(shape, "", "response");
  }
  const cache = row.headers?.["cache-control"] ?? ENDPOINT_HEADERS["cache-control"]!;
  example.responseHeaders.push(["Cache-Control", cache]);
  return example;
}

/** docs/endpoints.md, whole. */
export function endpointReference(rows: readonly AnyEndpoint[] = ENDPOINTS): string {
  const groups = new Map<string, AnyEndpoint[]>();
  for (const row of rows) {
    const tag = row.tags[0] ?? "";
    if (TAGS[tag] === undefined)
      throw new Error(`${row.method} ${row.path}: tag "${tag}" has no title in scripts/docs/endpoint-reference.ts`);
    groups.set(tag, [...(groups.get(tag) ?? []), row]);
  }
  const out: string[] = [];
  out.push(
    "# Endpoint reference",
    "",
    "<!-- Generated from the endpoint table (src/http/endpoints.ts, src/http/endpoints/*.ts) by `npm run docs:endpoints`: do not edit by hand. -->",
    "",
    "Every HTTP endpoint that the Fastify plugin, the Express guard and the tokenver server mount, with what",
    "it takes and what it answers. It is generated from the one endpoint table that the adapters and the",
    "server's OpenAPI document are built from, so it says what the code does; `test/endpoint-reference.test.ts`",
    "fails when it is out of date. The contract behind it is [api.md](api.md); mounting the endpoints in your",
    "app: [library.md](library.md).",
    "",
    "## Every endpoint",
    "",
    "- Paths are relative to where the endpoints are mounted: the plugin's or the guard's `routes: { prefix }`",
    '  (`/auth/login` with `prefix: "/auth"`), the server\'s root. A trailing slash is accepted.',
    `- Request bodies are JSON (\`application/json\`), at most ${BODY_LIMIT_BYTES / 1024} KiB (\`413\` above it). Unknown`,
    "  keys are dropped, never stored; a field of the wrong type is `400 validation_failed`, never converted.",
    "- Answers carry `Cache-Control: no-store` and `Pragma: no-cache` unless an endpoint says otherwise.",
    "- Errors are `application/problem+json` ([Problem](#problem)); switch on `code`. A `401` carries",
    '  `WWW-Authenticate: Bearer realm="tokenver"` (with `error="invalid_token"` when a token was sent); a `429`,',
    "  and a `503` when the password-hashing queue is full, carry `Retry-After` in seconds. Any endpoint may also",
    "  answer `404 not_found` for a method it does not have, `400 bad_request` for a `Tokenver-Mode` other than",
    "  `cookie` or `bearer`, and `500 internal_error` for a fault of the server.",
    "- **Access token**: `Authorization: Bearer <access>`. In cookie mode ([browser.md](browser.md)) the",
    `  \`${ACCESS_COOKIE}\` cookie stands in for it; an unsafe request (\`POST\`, \`PATCH\`, \`DELETE\`) authenticated by`,
    "  the cookie also needs the `Origin` of an allowed page and the session's CSRF token in `X-CSRF-Token`",
    `  (the \`${CSRF_COOKIE}\` cookie), else \`403 csrf_failed\`. A bearer request has no CSRF rules.`,
    "- **Cookie mode**: a request with `Tokenver-Mode: cookie` to an endpoint that issues tokens gets them as",
    `  cookies (\`${ACCESS_COOKIE}\`, \`${REFRESH_COOKIE}\`, \`${CSRF_COOKIE}\`) and a body without tokens.`,
    "- **Admin**: an admin endpoint reads the caller's role from the database on every request; anyone else gets",
    "  `403 forbidden`.",
    "",
    "The tokenver server also serves `GET /openapi.json` (this table as OpenAPI 3.1), `GET /docs` and the account",
    "page under `/account` ([server.md](server.md)); the adapters do not mount those.",
    "",
  );

  out.push("| endpoint | what | caller | success |", "| --- | --- | --- | --- |");
  // The headings' anchors, in the order of the page (GitHub numbers repeated ones).
  const slugs = new Slugs();
  const anchors = new Map<AnyEndpoint, string>();
  slugs.take("Endpoint reference");
  slugs.take("Every endpoint");
  for (const [tag, group] of groups) {
    slugs.take(TAGS[tag]!.title);
    for (const row of group) anchors.set(row, slugs.take(`${row.method} ${row.path}`));
  }
  for (const group of groups.values()) {
    for (const row of group) {
      out.push(
        `| [\`${row.method} ${row.path}\`](#${anchors.get(row)}) | ${cell(row.summary)} | ${callerOf(row)} | \`${statusLine(row.status)}\` |`,
      );
    }
  }
  out.push("");

  for (const [tag, group] of groups) {
    const { title, doc } = TAGS[tag]!;
    out.push(`## ${title}`, "");
    if (doc !== undefined) out.push(`How it works: ${doc}.`, "");
    for (const row of group) out.push(...endpointSection(row));
  }

  out.push("## Objects", "");
  for (const named of NAMED) {
    out.push(`### ${named.name}`, "", named.intro, "", ...fieldTable(fieldRows(named.schema, "", { top: true }), "answer"), "");
  }
  out.push(
    "### Problem",
    "",
    "Every error: RFC 9457 problem details, `application/problem+json`.",
    "",
    ...fieldTable(fieldRows(plain(problemSchema([])), "", { top: true }), "answer").map((line) =>
      line.startsWith("| `code` |") ? "| `code` | string | yes | One of the codes below: switch on this. |" : line,
    ),
    "",
    "A `403 mfa_required` also carries `mfa_token`, for `POST /login/mfa`.",
    "",
    ...errorCodeTable(rows),
    "",
  );
  return out.join("\n");
}

function endpointSection(row: AnyEndpoint): string[] {
  const schema = routeSchema(row, NO_CUSTOM_FIELDS) as Schema;
  const out: string[] = [`### \`${row.method} ${row.path}\``, "", prose(sentence(row.summary)), ""];
  if (row.description !== undefined) out.push(prose(row.description), "");
  out.push(...credentials(row, errorsOf(schema, row)), "");

  if (schema.params !== undefined) {
    out.push("**Path parameters:**", "", ...fieldTable(fieldRows(plain(schema.params), "", { top: true }), "parameters"), "");
  }
  if (schema.querystring !== undefined) {
    out.push(
      "**Query parameters** (all optional; unknown ones are ignored):",
      "",
      ...fieldTable(fieldRows(plain(schema.querystring), "", { top: true }), "parameters"),
      "",
    );
  }
  if (schema.body !== undefined) {
    const body = plain(schema.body);
    const form = row.bodyType === "form";
    const notes = [
      form ? "`application/x-www-form-urlencoded`" : "JSON",
      row.bodyOptional ? "may be left out" : undefined,
      !form && body.additionalProperties === false ? "unknown keys are ignored" : undefined,
    ].filter(Boolean);
    out.push(`**Request body** (${notes.join("; ")}):`, "");
    const rows = fieldRows(body, "", { top: true });
    if (typeof row.body === "function") {
      rows.push({
        path: "*your `userFields`*",
        type: "as configured",
        // A patch takes any of them (Type.Partial of the fields); a sign-up those the fields require.
        required: row.method === "PATCH" ? "no" : "as configured",
        limits: "as configured",
        description: "The custom user fields of the application ([library.md](library.md#custom-user-fields)).",
      });
    }
    out.push(...fieldTable(rows, "request"));
    if (body.description !== undefined) out.push("", prose(body.description));
    out.push("");
  }

  out.push(...successSection(row, schema), "");
  out.push("**Errors:**", "", "| status | code | also |", "| --- | --- | --- |");
  for (const error of errorsOf(schema, row)) {
    out.push(`| ${error.status} | ${error.codes.map((c) => `\`${c}\``).join(", ")} | ${cell(error.note)} |`);
  }
  out.push("", ...exampleBlock(exampleOf(row)), "");
  return out;
}

function successSection(row: AnyEndpoint, schema: Schema): string[] {
  const success = plain(schema.response[row.status]);
  const status = `\`${statusLine(row.status)}\``;
  if (success.type === "null") return [`**Success:** ${status}, no body.`];
  const out: string[] = [];
  if (row.issuesTokens) {
    const [bearer, cookie] = success.anyOf as Schema[];
    out.push(`**Success:** ${status}. In bearer mode (the default):`, "", ...responseTable(bearer!), "");
    const mode = row.access === "public" ? "`Tokenver-Mode: cookie`" : "`Tokenver-Mode: cookie`, or authenticated by the access cookie";
    out.push(`In cookie mode (${mode}) the tokens are set as cookies, never sent in the body:`, "", ...responseTable(cookie!));
  } else {
    out.push(`**Success:** ${status}:`, "", ...responseTable(success));
  }
  if (row.headers !== undefined) {
    out.push(
      "",
      `Headers: ${Object.entries(row.headers)
        .map(([name, value]) => `\`${headerName(name)}: ${value}\``)
        .join(", ")}.`,
    );
  }
  return out;
}

function responseTable(schema: Schema): string[] {
  const out = fieldTable(fieldRows(schema, "", { top: true }), "answer");
  if (schema.description !== undefined && namedOf(schema) === undefined) out.push("", prose(schema.description));
  return out;
}

function credentials(row: AnyEndpoint, errors: ErrorRow[]): string[] {
  const unsafe = row.method !== "GET";
  const serviceClient = errors.some((e) => e.codes.includes("invalid_client"));
  const token =
    row.access !== "public"
      ? "yes (`Authorization: Bearer`, or the access cookie in cookie mode)"
      : serviceClient
        ? "no: a service client authenticates with HTTP Basic (`tokenver clients create`)"
        : "no (public)";
  const admin = row.access === "admin" ? "yes (read from the database on each request; others `403 forbidden`)" : "no";
  const cookies: string[] = [];
  if (row.issuesTokens) cookies.push("with `Tokenver-Mode: cookie` the tokens are set as cookies");
  if (row.readsRefreshCookie) cookies.push("in cookie mode the refresh cookie stands in for `refresh`");
  if (row.expiresCookies) cookies.push("expires the three cookies, whatever the answer");
  if (row.renewsCsrf) cookies.push("in cookie mode, re-sets the CSRF cookie with a new token");
  const csrf = !unsafe
    ? "no"
    : row.access !== "public"
      ? "when authenticated by the access cookie: `X-CSRF-Token` and an allowed `Origin`"
      : "no token; with `Tokenver-Mode: cookie`, an allowed `Origin`";
  const out = [
    `- **Access token:** ${token}`,
    `- **Admin role:** ${admin}`,
    `- **Cookies:** ${cookies.length === 0 ? "none set" : cookies.join("; ")}`,
    `- **CSRF:** ${csrf}`,
  ];
  if (row.cors === false) out.push("- **CORS:** never enabled, whatever `TOKENVER_ALLOWED_ORIGINS` says (for services, not pages)");
  return out;
}

function callerOf(row: AnyEndpoint): string {
  if (row.access === "admin") return "admin";
  if (row.access === "user") return "access token";
  return row.bodyType === "form" ? "service client" : "public";
}

interface ErrorRow {
  status: number;
  codes: string[];
  note: string;
}

/** The row's error answers, as its route schema documents them, plus `403 csrf_failed` on unsafe methods in cookie mode. */
function errorsOf(schema: Schema, row: AnyEndpoint): ErrorRow[] {
  const out: ErrorRow[] = [];
  for (const [status, response] of Object.entries(plain(schema.response) as Record<string, Schema>)) {
    if (Number(status) === row.status) continue;
    const code = response.content?.["application/problem+json"]?.schema?.properties?.code as Schema | undefined;
    const codes = code === undefined ? [] : ((code.anyOf ?? [code]) as Schema[]).map((c) => String(c.const));
    const headers = Object.keys(response.headers ?? {}).map((name) => `\`${name}\``);
    out.push({ status: Number(status), codes, note: headers.length === 0 ? "" : `with ${headers.join(", ")}` });
  }
  if (row.method !== "GET") {
    out.push({
      status: 403,
      codes: ["csrf_failed"],
      note:
        row.access === "public"
          ? "with `Tokenver-Mode: cookie`: no allowed `Origin`"
          : "authenticated by the access cookie: no valid `X-CSRF-Token`, or no allowed `Origin`",
    });
  }
  return out.sort((a, b) => a.status - b.status);
}

/** Every code, the statuses the endpoints answer it with, and its title. */
function errorCodeTable(rows: readonly AnyEndpoint[]): string[] {
  const statuses = new Map<string, Set<number>>();
  for (const row of rows) {
    for (const error of errorsOf(routeSchema(row, NO_CUSTOM_FIELDS) as Schema, row)) {
      for (const code of error.codes) statuses.set(code, (statuses.get(code) ?? new Set()).add(error.status));
    }
  }
  const out = ["| code | status | title |", "| --- | --- | --- |"];
  for (const [code, { status, title }] of Object.entries(ERRORS) as Array<[ErrorCode, { status: number; title: string }]>) {
    const seen = [...(statuses.get(code) ?? new Set([status]))].sort((a, b) => a - b);
    out.push(`| \`${code}\` | ${seen.join(", ")} | ${title} |`);
  }
  return out;
}

interface FieldRow {
  path: string;
  type: string;
  required: string;
  limits: string;
  description: string;
}

/** An object's fields, nested objects and arrays of objects flattened (`sessions[].id`); named objects are linked, not expanded. */
function fieldRows(schema: Schema, prefix: string, options: { top?: boolean } = {}): FieldRow[] {
  const named = options.top ? undefined : namedOf(schema);
  if (named !== undefined) return [];
  const rows: FieldRow[] = [];
  const required = new Set<string>(schema.required ?? []);
  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    const path = `${prefix}${name}`;
    rows.push({
      path: `\`${path}\``,
      type: typeText(property),
      required: required.has(name) ? "yes" : "no",
      limits: limitsOf(property),
      description: property.description ?? "",
    });
    if (namedOf(property) !== undefined) continue;
    if (property.type === "object" && property.properties !== undefined) rows.push(...fieldRows(property, `${path}.`));
    if (property.type === "array" && property.items?.type === "object" && namedOf(property.items) === undefined) {
      rows.push(...fieldRows(property.items, `${path}[].`));
    }
  }
  return rows;
}

/**
 * A table of fields. A request's says whether each is required and its limits; an answer's whether
 * each is always there; parameters' (all optional or all required) their limits.
 */
function fieldTable(rows: FieldRow[], kind: "request" | "answer" | "parameters"): string[] {
  if (rows.length === 0) return ["(no fields)"];
  const columns: Array<[string, (r: FieldRow) => string]> = [
    ["field", (r) => r.path],
    ["type", (r) => r.type],
    ...(kind === "request" ? [["required", (r: FieldRow) => r.required] as [string, (r: FieldRow) => string]] : []),
    ...(kind === "answer" ? [["always", (r: FieldRow) => r.required] as [string, (r: FieldRow) => string]] : []),
    ...(kind === "answer" ? [] : [["limits", (r: FieldRow) => r.limits] as [string, (r: FieldRow) => string]]),
    ["meaning", (r) => r.description],
  ];
  return [
    `| ${columns.map(([name]) => name).join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${columns.map(([, value]) => cell(value(r))).join(" | ")} |`),
  ];
}

function namedOf(schema: Schema): string | undefined {
  const text = JSON.stringify(schema);
  return NAMED.find((n) => JSON.stringify(n.schema) === text)?.name;
}

function typeText(schema: Schema): string {
  const named = namedOf(schema);
  if (named !== undefined) return `[${named}](#${named.toLowerCase()})`;
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.anyOf !== undefined) return [...new Set((schema.anyOf as Schema[]).map(typeText))].join(" or ");
  if (schema.type === "array") {
    const items = schema.items as Schema;
    return items.type === "object" && namedOf(items) === undefined ? "array of objects" : `array of ${typeText(items)}`;
  }
  if (schema.type === "object" && schema.patternProperties !== undefined) {
    const values = Object.values(schema.patternProperties as Record<string, Schema>).map(typeText);
    return `object (any keys; values: ${values.join(", ")})`;
  }
  if (schema.type === "string" && schema.format !== undefined) return `string (${schema.format})`;
  return String(schema.type);
}

function limitsOf(schema: Schema): string {
  if (schema.anyOf !== undefined) return (schema.anyOf as Schema[]).map(limitsOf).filter(Boolean).join("; ");
  const limits: string[] = [];
  if (schema.minLength !== undefined) limits.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) limits.push(`at most ${schema.maxLength} characters`);
  if (schema.pattern !== undefined) limits.push(`matches \`${schema.pattern}\``);
  if (schema.minimum !== undefined) limits.push(`at least ${schema.minimum}`);
  if (schema.maximum !== undefined) limits.push(`at most ${schema.maximum}`);
  return limits.join("; ");
}

/**
 * An example value of a schema: the field's entry of SAMPLES, else a value of its type. A request
 * sends the required fields (all of them when none is); a response holds every field.
 */
function sample(schema: Schema, key: string, side: "request" | "response"): unknown {
  if (Object.hasOwn(SAMPLES, key) && schema.type !== "array") return SAMPLES[key];
  if (schema.const !== undefined) return schema.const;
  if (schema.anyOf !== undefined) {
    const variants = schema.anyOf as Schema[];
    return sample(variants.find((v) => v.type !== "null") ?? variants[0]!, key, side);
  }
  switch (schema.type) {
    case "null":
      return null;
    case "boolean":
      return false;
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "string":
      if (schema.format === "date-time") return AT;
      if (key === "id") return USER_ID;
      return `<${key.replaceAll("_", " ")}>`;
    case "array":
      return [sample(schema.items, key, side)];
    case "object": {
      if (schema.properties === undefined) return {};
      const required = new Set<string>(schema.required ?? []);
      const keys = Object.keys(schema.properties).filter((name) => side === "response" || required.size === 0 || required.has(name));
      return Object.fromEntries(keys.map((name) => [name, sample(schema.properties[name], idKey(key, name), side)]));
    }
    default:
      return null;
  }
}

/** `id` of a session or of an event, told apart by the array holding it. */
function idKey(parent: string, name: string): string {
  if (name !== "id") return name;
  if (parent === "sessions") return "session_id";
  if (parent === "events") return "jti";
  return "id";
}

function exampleBlock(example: Example): string[] {
  const request = [`${example.line} HTTP/1.1`, ...example.headers.map(([name, value]) => `${name}: ${value}`)];
  if (example.body !== undefined) request.push("", formatJson(example.body));
  // The form's values are placeholders, shown as they read (a real value is percent-encoded).
  if (example.form !== undefined)
    request.push(
      "",
      Object.entries(example.form)
        .map(([name, value]) => `${name}=${value}`)
        .join("&"),
    );
  const response = [`HTTP/1.1 ${statusLine(example.status)}`, ...example.responseHeaders.map(([name, value]) => `${name}: ${value}`)];
  if (example.response !== undefined) response.push("", formatJson(example.response));
  return ["**Example:**", "", "```http", ...request, "```", "", "```http", ...response, "```"];
}

/** JSON as a person would write it: on one line when it fits in 100 characters, else one member a line. */
export function formatJson(value: unknown, indent = ""): string {
  const flat = oneLine(value);
  if (value === null || typeof value !== "object" || indent.length + flat.length <= 100) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + formatJson(v, inner)).join(",\n")}\n${indent}]`;
  const members = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`);
  return `{\n${members.join(",\n")}\n${indent}}`;
}

function oneLine(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`);
    return members.length === 0 ? "{}" : `{ ${members.join(", ")} }`;
  }
  return JSON.stringify(value);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
class Slugs {
  private readonly seen = new Map<string, number>();
  take(heading: string): string {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = this.seen.get(base) ?? 0;
    this.seen.set(base, count + 1);
    return count === 0 ? base : `${base}-${count}`;
  }
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ""}`.trim();
}

function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

function sentence(text: string): string {
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** A table cell: no line breaks, pipes escaped, and text as text. */
function cell(text: string): string {
  return prose(text.replace(/\s*\n\s*/g, " ")).replaceAll("|", "\\|");
}

/** Text from the table, as Markdown: `<` and `>` outside code spans are text, not HTML (`urn:tokenver:problem:<code>`). */
function prose(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith("`") ? part : part.replaceAll("<", "&lt;").replaceAll(">", "&gt;")))
    .join("");
}

/** A schema as plain JSON data (TypeBox's symbols dropped). */
function plain(schema: TSchema | Schema): Schema {
  return JSON.parse(JSON.stringify(schema)) as Schema;
}
