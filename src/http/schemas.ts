import { Type, type TObject, type TProperties } from "typebox";
import { ERRORS, type ErrorCode } from "../core/errors.js";
import {
  EMAIL_MAX_LENGTH,
  PASSWORD_INPUT_MAX_LENGTH,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  REFRESH_TOKEN_MAX_LENGTH,
  SESSIONS_CURSOR_MAX_LENGTH,
  SESSIONS_PAGE_DEFAULT,
  SESSIONS_PAGE_MAX,
  USERNAME_MAX_LENGTH,
} from "../core/limits.js";

/**
 * Request and response schemas of the wire format (docs/api.md section 3): the endpoint table
 * (endpoints.ts) names them, Fastify validates and serialises with them, OpenAPI shows them.
 */

// A loose first check: the domain validates the address itself (core/limits.ts has its limit).
const Email = Type.String({ maxLength: EMAIL_MAX_LENGTH, description: "Compared case-insensitively after trimming." });
const Password = Type.String({
  maxLength: PASSWORD_INPUT_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters; the commonest passwords are refused.`,
});
const AnyPassword = Type.String({ maxLength: PASSWORD_INPUT_MAX_LENGTH });
const RefreshToken = Type.String({ maxLength: REFRESH_TOKEN_MAX_LENGTH });
const Username = Type.Union([Type.String({ maxLength: USERNAME_MAX_LENGTH }), Type.Null()]);
const Scope = Type.Union([Type.Literal("all"), Type.Literal("session")]);

export const LoginBody = Type.Object({ email: Email, password: AnyPassword }, { additionalProperties: false });
export const RefreshBody = Type.Object(
  { refresh: Type.Optional(RefreshToken) },
  {
    additionalProperties: false,
    description: "`refresh` is required in bearer mode; in cookie mode (`Tokenver-Mode: cookie`) the refresh cookie is used without it.",
  },
);
export const LogoutBody = Type.Object(
  { refresh: Type.Optional(RefreshToken), scope: Type.Optional(Scope) },
  { additionalProperties: false, description: "May be omitted entirely: an empty request logs out with scope all." },
);
export const PasswordBody = Type.Object({ current_password: AnyPassword, new_password: Password }, { additionalProperties: false });
// No length limit here: any id that is not one of the caller's sessions is the same 404 (the
// service refuses odd lengths itself), never a 400 that would tell ids apart.
export const SessionParams = Type.Object({ id: Type.String({ description: "A session id from GET /sessions." }) });
// Query values are strings (nothing is coerced): the digits are read by wire.ts, the range and the
// cursor checked by the domain (core/sessions/manage.ts), each a 400 validation_failed.
export const SessionsQuery = Type.Object({
  limit: Type.Optional(
    Type.String({
      pattern: "^[0-9]{1,3}$",
      description: `Sessions per page, 1 to ${SESSIONS_PAGE_MAX}; default ${SESSIONS_PAGE_DEFAULT}.`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({ maxLength: SESSIONS_CURSOR_MAX_LENGTH, description: "The `next_cursor` of the previous page; omit it for the first." }),
  ),
});

/** Register: the built-in fields plus the application's custom fields (unknown keys are dropped). */
export function registerBody(profile: TObject): TObject {
  return Type.Object(
    { email: Email, password: Password, username: Type.Optional(Username), ...(profile.properties as TProperties) },
    { additionalProperties: false },
  );
}

/** Profile patch: username and custom fields, all optional; protected fields are dropped. */
export function profilePatchBody(profile: TObject): TObject {
  const custom = Type.Partial(profile) as TObject;
  return Type.Object({ username: Type.Optional(Username), ...(custom.properties as TProperties) }, { additionalProperties: false });
}

/** The built-in fields of `user` on the wire; the custom fields follow them. */
export const UserBase = Type.Object({
  id: Type.String(),
  email: Type.String(),
  username: Username,
  token_version: Type.Integer({ minimum: 0 }),
  created_at: Type.String({ format: "date-time" }),
  role: Type.Union([Type.Literal("user"), Type.Literal("admin")], { description: "`admin` may call the admin API." }),
  disabled: Type.Boolean({ description: "An administrator disabled the account: sign-in and refresh answer `403 account_disabled`." }),
  mfa_enabled: Type.Boolean({ description: "A second factor (TOTP) is on: sign-in answers `403 mfa_required` after the password." }),
  recovery_codes_left: Type.Integer({ minimum: 0, description: "Unused recovery codes (0 while the second factor is off)." }),
  email_verified: Type.Boolean({ description: "The address was confirmed with a mailed link (`POST /email/verify`)." }),
});

export function userSchema(profile: TObject): TObject {
  const custom = Type.Partial(profile) as TObject;
  return Type.Object({ ...UserBase.properties, ...(custom.properties as TProperties) });
}

const tokenFields = {
  access: Type.String({ description: "Access token (JWT, typ at+jwt, HS256)." }),
  refresh: Type.String({ description: "Opaque, single-use refresh token." }),
  token_type: Type.Literal("Bearer"),
  expires_in: Type.Integer({ description: "Seconds until the access token expires." }),
};
export const TokenPair = Type.Object(tokenFields);
export const authResult = (profile: TObject) => Type.Object({ user: userSchema(profile), ...tokenFields });
/** A token-issuing answer in cookie mode (docs/api.md section 6): the tokens are in cookies, never in the body. */
export const CookieResult = (profile: TObject) =>
  Type.Object({
    user: Type.Optional(userSchema(profile)),
    token_type: Type.Literal("cookie"),
    expires_in: Type.Integer({ description: "Seconds until the access token expires." }),
    csrf_token: Type.String({ description: "Send it back as X-CSRF-Token on unsafe requests (also in the __Host-tokenver-csrf cookie)." }),
  });
/** `POST /register`: the tokens are absent where a verified address is required (docs/api.md section 8). */
export const registerResult = (profile: TObject) =>
  Type.Object(
    {
      user: userSchema(profile),
      access: Type.Optional(tokenFields.access),
      refresh: Type.Optional(tokenFields.refresh),
      token_type: Type.Optional(tokenFields.token_type),
      expires_in: Type.Optional(tokenFields.expires_in),
    },
    { description: "With TOKENVER_REQUIRE_VERIFIED_EMAIL=true, `{user}` alone: tokens come with the first sign-in after verification." },
  );

export const Session = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: "date-time" }),
  last_used_at: Type.String({ format: "date-time" }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});
export const SessionList = Type.Object({
  sessions: Type.Array(Session),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: "Pass it as `cursor` for the next page; `null` on the last page." }),
});

export const Health = Type.Object({ status: Type.Literal("ok") });

const problemFields = {
  type: Type.String({ description: "A URI naming the problem type (urn:tokenver:problem:<code>)." }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  errors: Type.Optional(
    Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
      description: "For validation_failed: which field, and why.",
    }),
  ),
};

/** An RFC 9457 problem document whose `code` is one of `codes` (all codes when omitted). */
export function problemSchema(codes: readonly ErrorCode[] = Object.keys(ERRORS) as ErrorCode[]) {
  return Type.Object(
    {
      ...problemFields,
      code: Type.Union(
        codes.map((c) => Type.Literal(c)),
        { description: "Stable machine-readable code: switch on this." },
      ),
    },
    { description: "RFC 9457 problem details (application/problem+json)." },
  );
}

/** The codes each error status carries on a bearer-protected route, unless a route says otherwise. */
const DEFAULT_CODES: Record<number, readonly ErrorCode[]> = {
  400: ["validation_failed", "bad_request"],
  401: ["token_missing", "token_invalid", "token_expired", "token_revoked"],
  403: ["invalid_credentials"],
  404: ["not_found"],
  409: ["email_taken"],
  413: ["payload_too_large"],
  415: ["unsupported_media_type"],
  429: ["rate_limited"],
  503: ["service_unavailable"],
};

/** Response headers that come with some statuses (RFC 6750 section 3; RFC 9110 section 10.2.3). */
const STATUS_HEADERS: Record<number, Record<string, object>> = {
  401: {
    "WWW-Authenticate": { type: "string", description: 'Bearer realm="tokenver", with error="invalid_token" when a token was presented.' },
  },
  429: { "Retry-After": { type: "integer", minimum: 1, description: "Seconds until the throttling window ends." } },
};

/** 503 on a route that hashes a password: also when the hashing queue is full, then with `Retry-After`. */
export const HASHING_UNAVAILABLE = [
  503,
  ["service_unavailable"],
  {
    "Retry-After": {
      type: "integer",
      minimum: 1,
      description: "Seconds to wait, when the password-hashing queue was full (absent when a store did not answer).",
    },
  },
] as const;

/**
 * Error responses of a route, for the OpenAPI document: each status with the codes it can carry
 * (a number uses the default codes; `[status, codes]` names the route's own, `[status, codes,
 * headers]` its headers too) and its headers.
 */
export function problems(
  ...entries: Array<number | readonly [number, readonly ErrorCode[]] | readonly [number, readonly ErrorCode[], Record<string, object>]>
) {
  return Object.fromEntries(
    entries.map((entry) => {
      const [status, codes, ownHeaders] = typeof entry === "number" ? [entry, DEFAULT_CODES[entry] ?? [], undefined] : entry;
      const headers = ownHeaders ?? STATUS_HEADERS[status];
      return [
        status,
        {
          description: `Problem details; code: ${codes.join(", ")}`,
          ...(headers === undefined ? {} : { headers }),
          content: { "application/problem+json": { schema: problemSchema(codes) } },
        },
      ];
    }),
  );
}

/**
 * The credential failures of login and refresh, whose 401s differ from a bearer route's. A
 * cookie-mode refresh with neither `refresh` nor the refresh cookie is `token_missing`.
 */
export const LOGIN_FAILED = [401, ["invalid_credentials"]] as const;
export const REFRESH_FAILED = [401, ["token_missing", "token_invalid", "token_expired", "token_revoked", "refresh_reused"]] as const;

/** Schema of GET /openapi.json, so the document lists itself (docs/api.md section 3). */
export const openApiDocumentSchema = {
  tags: ["operations"],
  summary: "This OpenAPI 3.1 document",
  response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true, description: "The OpenAPI document." }) },
};

/**
 * GET /docs as an OpenAPI path item. Swagger UI hides its own routes, so the page is described
 * here and passed to @fastify/swagger as `openapi.paths` (a fresh object: swagger adds to it).
 */
export function docsPaths(): Record<string, object> {
  return {
    "/docs": {
      get: {
        tags: ["operations"],
        summary: "This API's documentation page (Swagger UI, served from installed packages)",
        responses: { 200: { description: "HTML page", content: { "text/html": { schema: { type: "string" } } } } },
      },
    },
  };
}
