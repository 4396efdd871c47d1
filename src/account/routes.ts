import { readdir, readFile } from "node:fs/promises";
import type { FastifyInstance, FastifyReply } from "fastify";
import { ACCOUNT_CSS, accountHtml } from "./markup.js";

/**
 * GET /account (and /account/reset, /account/verify, /account/cancel-email): the account page, its script and the client
 * it is built on, served from the package itself (docs/account-page.md). Public routes: the page
 * signs in through the API like any other client.
 */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // The QR code of the second factor is an <img> of a data: URL, never parsed markup.
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Where the modules are: the built package, or the sources (tests, `tsx`), transpiled on first request. */
const ROOT = new URL("../", import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith(".ts");

/** Public, and not API endpoints: kept out of the OpenAPI document. */
const ROUTE = { config: { public: true }, schema: { hide: true } };

export async function registerAccountPage(app: FastifyInstance, prefix = ""): Promise<void> {
  const html = accountHtml(prefix);
  // The modules the page loads, its own script and `tokenver/client`, listed once: nothing else is
  // served, and no request can grow the cache.
  const modules = new Map<string, Promise<string | undefined> | undefined>([["account/page.js", undefined]]);
  for (const file of await readdir(new URL("client/", ROOT))) {
    const name = FROM_SOURCE ? file.replace(/(?<!\.d)\.ts$/, ".js") : file;
    if (/^[a-z-]+\.js$/.test(name)) modules.set(`client/${name}`, undefined);
  }
  const page = async (_request: unknown, reply: FastifyReply) => {
    secureHeaders(reply).header("content-type", "text/html; charset=utf-8").header("cache-control", "no-store");
    return html;
  };
  for (const path of ["/account", "/account/reset", "/account/verify", "/account/cancel-email"]) app.get(path, ROUTE, page);
  app.get("/account/assets/account.css", ROUTE, async (_request, reply) => {
    secureHeaders(reply).header("content-type", "text/css; charset=utf-8").header("cache-control", "no-cache");
    return ACCOUNT_CSS;
  });
  app.get<{ Params: { dir: string; file: string } }>("/account/assets/:dir/:file", ROUTE, async (request, reply) => {
    const name = `${request.params.dir}/${request.params.file}`;
    if (!modules.has(name)) return reply.callNotFound();
    let loading = modules.get(name);
    if (loading === undefined) modules.set(name, (loading = loadModule(name)));
    const source = await loading;
    if (source === undefined) return reply.callNotFound();
    secureHeaders(reply).header("content-type", "text/javascript; charset=utf-8").header("cache-control", "no-cache");
    return source;
  });
}

function secureHeaders(reply: FastifyReply): FastifyReply {
  return reply.header("content-security-policy", PAGE_POLICY).header("x-frame-options", "DENY").header("referrer-policy", "no-referrer");
}

/**
 * A module of the built package (dist/account/page.js, dist/client/*.js). Run from the sources
 * (tests, `tsx`), the .ts file is transpiled with TypeScript, a devDependency, once per module.
 */
async function loadModule(name: string): Promise<string | undefined> {
  try {
    if (!FROM_SOURCE) return await readFile(new URL(name, ROOT), "utf8");
    const source = await readFile(new URL(name.replace(/\.js$/, ".ts"), ROOT), "utf8");
    const ts = (await import("typescript")).default;
    return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  } catch {
    return undefined;
  }
}
