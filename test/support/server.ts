import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { createAuth, type Auth } from "../../src/create-auth.js";
import type { AuthOptions, UserFields } from "../../src/settings/table.js";
import { buildServer } from "../../src/server.js";
import { resolveTrustProxy } from "../../src/settings/resolve.js";
import { createTestDatabase, type DialectName, type TestDatabase } from "./databases.js";

export const TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long!!";

export interface TestServer {
  url: string;
  auth: Auth<any>;
  app: FastifyInstance;
  database: TestDatabase;
  api: Api;
  close(): Promise<void>;
}

/** A real tokenver server on a loopback port, over a fresh database of the dialect. */
export async function startServer(
  options: AuthOptions<UserFields> & { dialect?: DialectName; trustProxy?: boolean | number | string; port?: number } = {},
): Promise<TestServer> {
  const { dialect = "sqlite", trustProxy, port = 0, ...authOptions } = options;
  const database = options.databaseUrl
    ? { name: dialect, url: options.databaseUrl, drop: async () => {} }
    : await createTestDatabase(dialect);
  // Suites register a user per test from one address: the registration throttle (20 per window by
  // default) is off unless a test sets it (test/register-throttle.test.ts tests the default itself).
  const rateLimit = { registrations: 1_000_000, addressLogins: 1_000_000, ...authOptions.rateLimit };
  // Every registration mails a verification link: it goes nowhere (no .eml files under ./data)
  // unless the test sets a transport (test/recovery/ receives mail over real SMTP).
  const mail =
    authOptions.smtpUrl === undefined && authOptions.sendMail === undefined && authOptions.mailOutboxDir === undefined
      ? { sendMail: async () => {} }
      : {};
  const auth = await createAuth({ secret: TEST_SECRET, ...mail, ...authOptions, rateLimit, databaseUrl: database.url });
  const app = await buildServer(auth, { trustProxy: resolveTrustProxy(trustProxy) });
  await app.listen({ port, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    auth,
    app,
    database,
    api: new Api(url),
    close: async () => {
      await app.close();
      await auth.close();
      await database.drop();
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A small fetch client: real HTTP, JSON in, JSON (or problem+json) out. */
export class Api {
  constructor(readonly url: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(this.url + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, token?: string) {
    return this.request<T>("GET", path, token === undefined ? {} : { token });
  }

  post<T = any>(path: string, body?: unknown, token?: string) {
    return this.request<T>("POST", path, { body, ...(token === undefined ? {} : { token }) });
  }

  /** Registers a fresh user; returns the 201 body plus the password used. */
  async register(email = uniqueEmail(), password = "a long and unguessable passphrase", extra: Record<string, unknown> = {}) {
    const response = await this.post("/register", { email, password, ...extra });
    if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
    return { ...response.body, email, password } as {
      user: { id: string; email: string; token_version: number };
      access: string;
      refresh: string;
      email: string;
      password: string;
    };
  }

  async login(email: string, password: string) {
    const response = await this.post("/login", { email, password });
    if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.text}`);
    return response.body as { user: { id: string; token_version: number }; access: string; refresh: string };
  }
}

let counter = 0;
export function uniqueEmail(): string {
  return `user${process.pid}-${Date.now()}-${counter++}@example.com`;
}

/** Decodes a JWT's payload without verifying it (tests inspect what the server issued). */
export function claimsOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}
