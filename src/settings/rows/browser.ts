import type { Setting } from "../table.js";

/** The `createAuth()` options of the browser capability (docs/api.md section 6; docs/browser.md). */
export interface BrowserOptions {
  allowedOrigins?: string;
  refreshGrace?: number;
}

export interface ResolvedBrowserOptions {
  allowedOrigins: string | undefined;
  refreshGrace: number;
}

/** Settings of cookie mode, CSRF, CORS and the refresh grace (docs/api.md section 6; docs/browser.md). */
export const BROWSER_SETTINGS = [
  {
    // Exact origins only: no wildcard, no path. The origin of publicUrl is always allowed.
    option: "allowedOrigins",
    env: "TOKENVER_ALLOWED_ORIGINS",
    kind: {
      type: "url",
      pattern: /^\s*https?:\/\/[^/?#\s,*]+\s*(,\s*https?:\/\/[^/?#\s,*]+\s*)*$/,
      forms: ["comma-separated origins (http(s)://host[:port])"],
    },
    defaultText: "unset: only the origin of `TOKENVER_PUBLIC_URL`",
    doc: "other origins whose pages may use cookie mode and call the API with credentials (CORS); exact origins, no wildcard",
  },
  {
    option: "refreshGrace",
    env: "TOKENVER_REFRESH_GRACE",
    kind: { type: "integer", min: 0, max: 60 },
    default: 10,
    doc: "seconds a just-rotated refresh token may be presented again for the same successor (several tabs); `0`: off",
  },
] as const satisfies readonly Setting[];
