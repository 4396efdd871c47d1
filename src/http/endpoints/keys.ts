import { Type } from "typebox";
import { endpoint, type AnyEndpoint } from "../endpoint.js";
import * as S from "../schemas.js";

/** A public JWK: `kty`, `kid`, `alg`, `use` and the key type's public parameters only. */
const PublicJwk = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.Literal("sig"),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Jwks = Type.Object({ keys: Type.Array(PublicJwk) }, { additionalProperties: false, description: "RFC 7517 JWK Set" });

const Metadata = Type.Object(
  { issuer: Type.String(), jwks_uri: Type.String(), introspection_endpoint: Type.String() },
  { additionalProperties: false, description: "RFC 8414 authorization server metadata (subset)" },
);

/** Caches of the JWKS may keep it this long; the publish delay of a rotation covers it (docs/keys.md). */
export const JWKS_MAX_AGE = 300;

/** Signing keys (docs/api.md section 7): the public key set and the server's metadata. */
export const KEY_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "GET",
    path: "/.well-known/jwks.json",
    access: "public",
    tags: ["keys"],
    summary: "The public signing keys (JWKS)",
    description:
      'The public JWKs of every key that is next, current or still verifies a live token; `{"keys": []}` with HS256. ' +
      "It checks signatures, not revocation: use `POST /introspect` or the library to honour logout at once.",
    headers: { "cache-control": `public, max-age=${JWKS_MAX_AGE}` },
    status: 200,
    response: Jwks,
    errors: S.problems(503),
    handler: async ({ auth }) => auth.jwks(),
  }),
  endpoint({
    method: "GET",
    path: "/.well-known/oauth-authorization-server",
    access: "public",
    tags: ["keys"],
    summary: "Authorization server metadata (RFC 8414 subset)",
    status: 200,
    response: Metadata,
    errors: S.problems(503),
    handler: async ({ auth }) => auth.serverMetadata(),
  }),
];

const Introspection = Type.Object(
  {
    active: Type.Boolean(),
    sub: Type.Optional(Type.String()),
    sid: Type.Optional(Type.String()),
    token_version: Type.Optional(Type.Integer()),
    iss: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    jti: Type.Optional(Type.String()),
    amr: Type.Optional(Type.Array(Type.String())),
    token_type: Type.Optional(Type.Literal("Bearer")),
  },
  { additionalProperties: false, description: 'RFC 7662 2.2; exactly `{"active": false}` for any token that verify refuses' },
);

/** Introspection (RFC 7662) for services in any language: service clients authenticate with HTTP Basic. */
export const INTROSPECTION_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "POST",
    path: "/introspect",
    access: "public",
    tags: ["keys"],
    summary: "Introspect an access token (RFC 7662)",
    description:
      "Form-encoded (`application/x-www-form-urlencoded`) `token=<access token>`; `token_type_hint` and unknown parameters are ignored. " +
      "HTTP Basic of a service client (`tokenver clients create`), id and secret form-encoded before Basic encoding (RFC 6749 2.3.1). " +
      '`{"active": false}` for any token that `verify` refuses (revoked included, at once) and for refresh tokens. Throttled per client.',
    bodyType: "form",
    // For services, never for pages: no CORS, whatever the allowed origins say (docs/api.md section 7).
    cors: false,
    formParameters: Type.Object({
      token: Type.String({ description: "The access token." }),
      token_type_hint: Type.Optional(Type.String({ description: "Ignored." })),
    }),
    status: 200,
    response: Introspection,
    errors: S.problems(
      [401, ["invalid_client"], { "WWW-Authenticate": { schema: { type: "string" }, description: 'Basic realm="tokenver"' } }],
      413,
      415,
      429,
      503,
    ),
    handler: async ({ auth, body, client, authorization }) =>
      auth.introspect(authorization, (body as Record<string, unknown> | undefined)?.token, client),
  }),
];
