/**
 * `tokenver/client`: the browser and Node client of a tokenver server (docs/client.md). No
 * dependencies beyond `fetch`; nothing here imports the server.
 *
 * @example
 * import { createClient } from "tokenver/client";
 * const client = createClient({ baseUrl: "https://example.com/auth", mode: "cookie" });
 * client.onChange((change) => render(change));
 * const result = await client.signIn({ email, password });
 * if (result.status === "mfa_required") await result.submitCode(prompt("Code?")!);
 * const notes = await client.fetch("/notes").then((r) => r.json());
 */
import { TokenverClient } from "./client.js";
import type { ClientOptions } from "./types.js";

export { TokenverClient } from "./client.js";
export { TokenverError, type ErrorCode, type Problem } from "./errors.js";
export type * from "./types.js";

/**
 * A client for one tokenver server. `mode: "cookie"` keeps every token in HttpOnly cookies (browsers,
 * page and API on the same site); `mode: "bearer"` keeps the pair in memory or a `tokenStore` (Node,
 * or a page on another site). Invalid options throw a `TypeError` naming the option.
 */
export function createClient(options: ClientOptions): TokenverClient {
  return new TokenverClient(options);
}
