import { Type, type TObject, type TProperties } from "typebox";
import { ERRORS } from "../core/errors.js";

/** Request and response schemas: Fastify validates and serialises with them; OpenAPI shows them. */

const Email = Type.String({ maxLength: 320, description: "Compared case-insensitively after trimming." });
const Password = Type.String({ maxLength: 1024, description: "8 to 256 characters; the commonest passwords are refused." });
const Username = Type.Union([Type.String({ maxLength: 64 }), Type.Null()]);
const Scope = Type.Union([Type.Literal("all"), Type.Literal("session")]);

export const LoginBody = Type.Object({ email: Email, password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false });
export const RefreshBody = Type.Object({ refresh: Type.String({ maxLength: 512 }) }, { additionalProperties: false });
export const LogoutBody = Type.Object(
  { refresh: Type.Optional(Type.String({ maxLength: 512 })), scope: Type.Optional(Scope) },
  { additionalProperties: false },
);
export const PasswordBody = Type.Object(
  { current_password: Type.String({ maxLength: 1024 }), new_password: Password },
  { additionalProperties: false },
);
// No length limit here: any id that is not one of the caller's sessions is the same 404 (the
// service refuses odd lengths itself), never a 400 that would tell ids apart.
export const SessionParams = Type.Object({ id: Type.String({ description: "A session id from GET /sessions." }) });

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

export function userSchema(profile: TObject): TObject {
  const custom = Type.Partial(profile) as TObject;
  return Type.Object({
    id: Type.String(),
    email: Type.String(),
    username: Username,
    token_version: Type.Integer({ minimum: 0 }),
    created_at: Type.String({ format: "date-time" }),
    ...(custom.properties as TProperties),
  });
}

const tokenFields = {
  access: Type.String({ description: "Access token (JWT, typ at+jwt, HS256)." }),
  refresh: Type.String({ description: "Opaque, single-use refresh token." }),
  token_type: Type.Literal("Bearer"),
  expires_in: Type.Integer({ description: "Seconds until the access token expires." }),
};
export const TokenPair = Type.Object(tokenFields);
export const authResult = (profile: TObject) => Type.Object({ user: userSchema(profile), ...tokenFields });

export const SessionList = Type.Object({
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      created_at: Type.String({ format: "date-time" }),
      last_used_at: Type.String({ format: "date-time" }),
      user_agent: Type.Union([Type.String(), Type.Null()]),
      current: Type.Boolean(),
    }),
  ),
});

export const Health = Type.Object({ status: Type.Literal("ok") });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.Union(Object.keys(ERRORS).map((c) => Type.Literal(c))),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { description: "RFC 9457 problem details (application/problem+json)." },
);

/** Error responses of a route, for the OpenAPI document. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: "Problem details", content: { "application/problem+json": { schema: Problem } } }]),
  );
}
