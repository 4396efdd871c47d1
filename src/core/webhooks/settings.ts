import { isIP } from "node:net";
import { Webhook } from "standardwebhooks";

/** The webhook endpoints and signing secrets, checked at start-up (docs/api.md section 10). */
export interface WebhookSettings {
  readonly urls: readonly string[];
  /** `whsec_...` secrets; every one signs each delivery (several while a secret rotates). */
  readonly secrets: readonly string[];
}

/** A webhook setting that cannot work: `option` names it; the message completes "<option> ...". */
export class WebhookSettingError extends Error {
  constructor(
    readonly option: "webhookUrls" | "webhookSecret",
    message: string,
  ) {
    super(message);
  }
}

const MIN_SECRET_BYTES = 24;

/**
 * The endpoints (comma-separated) and secrets (separated by spaces or commas), or undefined when
 * no URL is set. https only; http only to a loopback address (the receiver on the same host). No
 * credentials in a URL: they would be sent in the clear to every proxy log and show in ours.
 */
export function webhookSettingsOf(urls: string | undefined, secret: string | undefined): WebhookSettings | undefined {
  const list = (urls ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  if (list.length === 0) {
    if (secret !== undefined && secret.length > 0) throw new WebhookSettingError("webhookSecret", "is set but no webhook URL is");
    return undefined;
  }
  for (const url of list) checkUrl(url);
  if (new Set(list).size !== list.length) throw new WebhookSettingError("webhookUrls", "names one URL twice");
  const secrets = (secret ?? "").split(/[\s,]+/).filter((s) => s.length > 0);
  if (secrets.length === 0) throw new WebhookSettingError("webhookSecret", "must be set when webhook URLs are (a whsec_ secret)");
  for (const s of secrets) checkSecret(s);
  return { urls: list, secrets };
}

function checkUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookSettingError("webhookUrls", "must be absolute https:// URLs, comma-separated");
  }
  if (url.username !== "" || url.password !== "") throw new WebhookSettingError("webhookUrls", "must not carry credentials");
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return;
  throw new WebhookSettingError("webhookUrls", "must be https:// (http:// only for a loopback address)");
}

/** 127.0.0.0/8, ::1 and `localhost` (which resolves to them). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

function checkSecret(secret: string): void {
  const bad = () =>
    new WebhookSettingError("webhookSecret", `must be whsec_ followed by the base64 of at least ${MIN_SECRET_BYTES} random bytes`);
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw bad();
  if (Buffer.from(secret.slice("whsec_".length), "base64").length < MIN_SECRET_BYTES) throw bad();
  try {
    new Webhook(secret);
  } catch {
    throw bad();
  }
}
