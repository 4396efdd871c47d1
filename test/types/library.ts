/**
 * Type tests of the public library surface, checked by `npm run typecheck` (never run). Each
 * `@ts-expect-error` line must fail to compile: if a change makes it compile, tsc reports the
 * unused directive, so the test fails. Typed assignments prove what the types carry.
 */
import express from "express";
import Fastify from "fastify";
import { Type } from "typebox";
import {
  AuthError,
  createAuth,
  type ActorOptions,
  type AuthOptions,
  type ErrorCode,
  type ListUsersOptions,
  type Principal,
  type Role,
  type ServerSideUserApi,
  type User,
  type UserDetail,
  type UserPage,
} from "../../src/index.js";
import tokenver, { tokenverPlugin, type TokenverPluginOptions } from "../../src/http/fastify/plugin.js";
import { problemHandler, tokenver as tokenverExpress, type TokenverGuard } from "../../src/http/express/guard.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectTrue<T extends true>(): T | void {}

const userFields = { company: Type.String(), seats: Type.Optional(Type.Integer()) };

export async function customFieldsAreTyped(): Promise<void> {
  const auth = await createAuth({ databaseUrl: "sqlite::memory:", userFields });

  const principal = await auth.verify("Bearer token");
  expectTrue<Equal<typeof principal, Principal>>();
  const userId: string = principal.userId;
  const version: number = principal.tokenVersion;
  const sid: string = principal.claims.sid;
  void [userId, version, sid];

  const user = await auth.getUser(principal);
  // Custom fields are optional on read: rows created before a field was configured lack it.
  expectTrue<Equal<typeof user.company, string | undefined>>();
  expectTrue<Equal<typeof user.seats, number | undefined>>();
  const email: string = user.email;
  const username: string | null = user.username;
  const tokenVersion: number = user.tokenVersion;
  const createdAt: string = user.createdAt;
  void [email, username, tokenVersion, createdAt];
  // @ts-expect-error the library speaks camelCase: token_version is the wire's name
  void user.token_version;
  // @ts-expect-error company is a string, not a number
  const wrongType: number | undefined = user.company;
  // @ts-expect-error a field that was not declared does not exist
  void user.plan;
  // @ts-expect-error username may be null
  const notNull: string = user.username;
  void [wrongType, notNull];

  const registered = await auth.register({ email: "a@example.com", password: "a long passphrase", company: "Acme" });
  expectTrue<Equal<typeof registered.user.company, string | undefined>>();
  const accessToken: string = registered.accessToken;
  const refreshToken: string = registered.refreshToken;
  const expiresIn: number = registered.expiresIn;
  void [accessToken, refreshToken, expiresIn];
  // @ts-expect-error the library speaks camelCase: access is the wire's name
  void registered.access;
  const pair = await auth.changePassword(principal, { currentPassword: "a long passphrase", newPassword: "another long one" });
  await auth.logout(principal, { refreshToken: pair.refreshToken, scope: "session" });
  // @ts-expect-error the library speaks camelCase: current_password is the wire's name
  await auth.changePassword(principal, { current_password: "a long passphrase", new_password: "another long one" });
  const updated = await auth.updateProfile(principal, { seats: 3 });
  expectTrue<Equal<typeof updated.seats, number | undefined>>();
  // userFields type the inputs too, not only what comes back.
  // @ts-expect-error company is required by its schema
  await auth.register({ email: "a@example.com", password: "a long passphrase" });
  // @ts-expect-error seats is an integer, not a string
  await auth.register({ email: "a@example.com", password: "a long passphrase", company: "Acme", seats: "3" });
  // @ts-expect-error plan was not declared
  await auth.register({ email: "a@example.com", password: "a long passphrase", company: "Acme", plan: "pro" });
  // @ts-expect-error company is a string
  await auth.updateProfile(principal, { company: 42 });
  // @ts-expect-error plan was not declared
  await auth.updateProfile(principal, { plan: "pro" });

  // The server-side user API's types are exported for the app's own code.
  const found = await auth.findUserByEmail("a@example.com");
  expectTrue<Equal<typeof found extends null ? never : NonNullable<typeof found>["company"], string | undefined>>();
  const detail: UserDetail = await auth.getUserDetail(userId);
  const page: UserPage = await auth.listUsers({ limit: 10 } satisfies ListUsersOptions);
  const role: Role = "admin";
  await auth.setRole(userId, role, { actor: "cli" } satisfies ActorOptions);
  const api: ServerSideUserApi<typeof userFields> = auth;
  void [detail, page, api];
  // @ts-expect-error roles are "user" and "admin"
  await auth.setRole(userId, "owner");

  // Without userFields, the user has the built-in fields only.
  const plain = await createAuth();
  const plainUser = await plain.getUser(principal);
  const asUser: User = plainUser;
  void asUser;
  // @ts-expect-error no custom fields were declared
  void plainUser.company;
}

export async function optionsAreTyped(): Promise<void> {
  // @ts-expect-error accessTtl is a number of seconds
  await createAuth({ accessTtl: "900" });
  // @ts-expect-error unknown options are refused (a typo would otherwise be silently ignored)
  await createAuth({ databseUrl: "sqlite::memory:" });
  // userFields: { company: "string" } compiles (TypeBox 1's TSchema is `{}`); createAuth refuses it
  // at run time with an OptionError (test/library/fastify-plugin.test.ts).
  const options: AuthOptions = { databaseUrl: "sqlite::memory:", rateLimit: { accountFailures: 3 } };
  void options;

  const error = new AuthError("token_revoked");
  expectTrue<Equal<typeof error.code, ErrorCode>>();
  const status: number = error.status;
  void status;
  // @ts-expect-error codes are the contract's, not free text
  new AuthError("revoked");
}

export async function fastifyIsTyped(): Promise<void> {
  const auth = await createAuth({ userFields });
  const app = Fastify();
  await app.register(tokenver, { auth, routes: { prefix: "/auth" } });
  await app.register(tokenverPlugin, { auth, routes: false });
  await app.register(tokenver, { options: { databaseUrl: "sqlite::memory:", userFields } });
  // @ts-expect-error one of auth or options is required
  await app.register(tokenver, {});
  // @ts-expect-error not both auth and options
  await app.register(tokenver, { auth, options: {} });
  // @ts-expect-error routes.prefix is a path string
  await app.register(tokenver, { auth, routes: { prefix: 5 } });
  // @ts-expect-error routes is a boolean or { prefix }
  await app.register(tokenver, { auth, routes: "/auth" });
  const pluginOptions: TokenverPluginOptions = { auth };
  void pluginOptions;
  // errors: the app's error handler, or a renderer typed by the problem it receives.
  await app.register(tokenver, { auth, errors: "app" });
  await app.register(tokenver, {
    auth,
    errors: (problem, error) => ({
      status: problem.status,
      headers: problem.headers,
      body: { code: error.code, title: problem.body.title },
    }),
  });
  // @ts-expect-error errors is "problem+json", "app" or a renderer
  await app.register(tokenver, { auth, errors: "html" });
  // @ts-expect-error a renderer returns { status, headers, body }
  await app.register(tokenver, { auth, errors: () => "text" });

  app.get("/notes", async (request) => {
    expectTrue<Equal<typeof request.user, Principal>>();
    const id: string = request.user.userId;
    // @ts-expect-error userId is a string
    const wrong: number = request.user.userId;
    const user = await auth.getUser(request.user);
    const company: string | undefined = user.company;
    return { id, wrong, company };
  });
  app.get("/health", { config: { public: true } }, async () => ({ status: "ok" }));
  // @ts-expect-error public is a boolean
  app.get("/bad", { config: { public: "yes" } }, async () => "");

  const service = app.tokenver;
  const verified: Principal = await service.verify("Bearer token");
  void verified;
}

export async function expressIsTyped(): Promise<void> {
  const auth = await createAuth({ userFields });
  const app = express();
  const guard: TokenverGuard = tokenverExpress({ auth, routes: { prefix: "/auth" } });
  guard.public.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.use(guard);
  app.get("/notes", async (req, res) => {
    expectTrue<Equal<typeof req.user, Principal>>();
    const id: string = req.user.userId;
    // @ts-expect-error tokenVersion is a number
    const wrong: string = req.user.tokenVersion;
    const user = await auth.getUser(req.user);
    const seats: number | undefined = user.seats;
    res.json({ id, wrong, seats });
  });
  app.use(problemHandler);
  tokenverExpress({ auth, routes: false });
  tokenverExpress({ auth, errors: "app" });
  tokenverExpress({ auth, errors: (problem) => ({ ...problem, body: { error: problem.body.code } }) });
  // @ts-expect-error errors is "problem+json", "app" or a renderer
  tokenverExpress({ auth, errors: true });
  // @ts-expect-error auth is required
  tokenverExpress({});
  // @ts-expect-error routes.prefix is a path string
  tokenverExpress({ auth, routes: { prefix: true } });
  // @ts-expect-error unknown option
  tokenverExpress({ auth, publicPaths: ["/health"] });
}
