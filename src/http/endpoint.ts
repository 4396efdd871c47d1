import { Type, type Static, type TObject, type TSchema } from "typebox";
import type { Auth } from "../core/auth.js";
import { AuthError } from "../core/errors.js";
import type { Principal, RequestContext } from "../core/types.js";
import { compileBodyCheck, validationError, type BodyCheck } from "./body-validator.js";
import * as wire from "./wire.js";

/**
 * One row of the endpoint table (endpoints.ts): what a row holds, and how any adapter runs one.
 * Nothing in this file knows a framework: a handler gets a call and answers a wire body.
 */

/**
 * Who may call: anyone, an authenticated user, or an admin: an authenticated user whose stored
 * role is `admin` (read from the database by `runEndpoint` on every request; others `403 forbidden`).
 */
export type Access = "public" | "user" | "admin";
export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** A schema, or one built from the custom user fields (`auth.profileSchema`). */
export type SchemaOf<T extends TSchema = TSchema> = T | ((profile: TObject) => T);

/** What a handler gets, whatever the framework: the body validated and converted to core's names. */
export interface EndpointCall<A extends Access = Access, B = unknown, P = unknown, Q = unknown> {
  auth: Auth<any>;
  /** The authenticated caller; `null` on a public endpoint, which is not authenticated. */
  principal: A extends "public" ? null : Principal;
  body: B;
  params: P;
  /** The query string's parameters, checked against the row's `query` schema (`{}` when it has none). */
  query: Q;
  client: RequestContext;
  /** The refresh cookie, on a row marked `readsRefreshCookie` in cookie mode (docs/api.md section 6). */
  refreshCookie?: string | undefined;
  /** The request's `Authorization` header (rows that authenticate their callers themselves: introspection). */
  authorization?: string | undefined;
}

export interface Endpoint<A extends Access = Access, W = unknown, B = W, P = unknown, Q = unknown> {
  method: Method;
  /** Express style (`/sessions/:id`); OpenAPI shows `{id}`. */
  path: string;
  access: A;
  /** OpenAPI. */
  summary: string;
  description?: string;
  tags: readonly string[];
  /**
   * `"form"`: the body is `application/x-www-form-urlencoded` (RFC 7662 introspection), exempt from
   * the JSON-only rule; the handler gets its parameters as an object of strings (the first of each
   * name), unchecked. Any other content type is 415. Default: JSON.
   */
  bodyType?: "json" | "form";
  /** A form row's parameters as a schema, shown by OpenAPI only (the handler checks them itself). */
  formParameters?: TSchema;
  /** The JSON request body (validated without coercion, unknown keys dropped); none when absent. */
  body?: SchemaOf;
  /** An absent body is `{}` (and OpenAPI says `requestBody.required: false`). JSON `null` stays a (refused) body. */
  bodyOptional?: boolean;
  /** How the wire body becomes the handler's `body`, and how core's error fields map back (wire.ts). */
  input?: wire.WireInput<W, B>;
  params?: TSchema;
  /**
   * The query string's parameters: an object of optional strings (query values are strings; the
   * handler converts them, nothing is coerced). Checked by `runEndpoint` for every adapter alike,
   * and shown by OpenAPI; unknown parameters are dropped.
   */
  query?: TSchema;
  /**
   * Response headers of this row instead of the default `Cache-Control: no-store` and `Pragma`
   * (e.g. the JWKS's `public, max-age=300`); both adapters set them on its success response.
   */
  headers?: Readonly<Record<string, string>>;
  /** The success status; its response schema (a `Type.Null` for no body). */
  status: number;
  response: SchemaOf;
  /** The error responses, from `problems(...)`. */
  errors: Record<number, object>;
  /**
   * Cookie mode (docs/api.md section 6): with `Tokenver-Mode: cookie` (or when authenticated by the
   * access cookie) the answer's tokens go into cookies instead of the body, with a CSRF token.
   * The handler answers as in bearer mode (`{user?, access, refresh, token_type, expires_in}`).
   */
  issuesTokens?: true;
  /**
   * For a row whose flow calls `advanceCsrfEpoch` without issuing tokens (a second-factor change):
   * in cookie mode its success re-sets `__Host-tokenver-csrf` with a token of the new epoch.
   */
  renewsCsrf?: true;
  /** Sets the three cookies expired, whatever the answer (`POST /logout`). */
  expiresCookies?: true;
  /** In cookie mode the handler gets the refresh cookie as `refreshCookie` (`POST /token/refresh`). */
  readsRefreshCookie?: true;
  /** `false`: never CORS-enabled, whatever `TOKENVER_ALLOWED_ORIGINS` says (introspection). */
  cors?: false;
  /** Answers the wire body, or `undefined` for none (204). */
  handler(call: EndpointCall<A, B, P, Q>): Promise<object | undefined>;
}

/** Any row of the table, for the adapters that loop over it. */
export type AnyEndpoint = Endpoint<Access, any, any, any, any>;

/** Types one row: the handler's body follows the body schema, or the row's `input` conversion. */
export function endpoint<
  A extends Access,
  T extends TSchema = TSchema,
  B = Static<T>,
  P extends TSchema = TSchema,
  Q extends TSchema = TSchema,
>(
  row: Omit<Endpoint<A, Static<T>, B, Static<P>, Static<Q>>, "body" | "params" | "query"> & { body?: SchemaOf<T>; params?: P; query?: Q },
): AnyEndpoint {
  return row as AnyEndpoint;
}

export const NO_BODY = (description: string) => Type.Null({ description });

/** On every response of every endpoint: token-bearing and personal answers are never cached (RFC 6749 5.1, RFC 9700). */
export const ENDPOINT_HEADERS: Readonly<Record<string, string>> = { "cache-control": "no-store", pragma: "no-cache" };

/** A row's schema for this service's custom user fields. */
export function schemaFor(schema: SchemaOf, profile: TObject): TSchema {
  return typeof schema === "function" ? schema(profile) : schema;
}

/** `/sessions/:id` as OpenAPI writes it: `/sessions/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** What an adapter knows of a request once it passed the body (and params) checks. */
export interface AdapterCall {
  auth: Auth<any>;
  /** The principal the adapter's authentication set, if any. */
  principal: Principal | null | undefined;
  body: unknown;
  params: unknown;
  /** The parsed query string (Fastify's `request.query`, Express's `req.query`); none counts as `{}`. */
  query?: unknown;
  client: RequestContext;
  refreshCookie?: string | undefined;
  /** The request's `Authorization` header. */
  authorization?: string | undefined;
}

/**
 * Runs a row's handler: the caller as its access requires, the body in core's names, and core's
 * validation errors back in the wire's names. Resolves to the wire body (undefined: none).
 */
export async function runEndpoint(row: AnyEndpoint, call: AdapterCall): Promise<object | undefined> {
  // A protected row without a principal is a bug of the adapter: fail closed.
  const principal = row.access === "public" ? null : (call.principal ?? null);
  if (row.access !== "public" && principal === null) throw new AuthError("token_missing", "A bearer token is required.");
  // The role is read from the database on every admin request, never from a claim (docs/api.md section 10).
  if (row.access === "admin") await call.auth.requireAdmin(principal!);
  const query = checkQuery(row, call.query);
  const input = row.input;
  try {
    const body = input === undefined ? call.body : input.toCore(call.body);
    return await row.handler({
      auth: call.auth,
      principal,
      body,
      params: call.params,
      query,
      client: call.client,
      ...(call.refreshCookie === undefined ? {} : { refreshCookie: call.refreshCookie }),
      authorization: call.authorization,
    });
  } catch (error) {
    throw input === undefined ? error : wire.toWireError(error, input.fields);
  }
}

const queryChecks = new WeakMap<AnyEndpoint, BodyCheck>();

/** The row's query parameters, checked without coercion (`400 validation_failed` otherwise); `{}` for a row without any. */
function checkQuery(row: AnyEndpoint, query: unknown): unknown {
  if (row.query === undefined) return {};
  let check = queryChecks.get(row);
  if (check === undefined) {
    check = compileBodyCheck(row.query);
    queryChecks.set(row, check);
  }
  // A copy: cleaning drops unknown keys, and the framework's object is not ours to change.
  const result = check({ ...((query ?? {}) as object) });
  if (result.errors !== undefined) throw validationError(result.errors);
  return result.value;
}
