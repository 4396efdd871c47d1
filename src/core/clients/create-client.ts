import { insertClient } from "../../store/queries/clients.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { ActorOptions } from "../users/actor.js";
import { HOLDS_NUL } from "../validation.js";
import { hashClientSecret, newClientId, newClientSecret } from "./client-secret.js";

export interface CreatedClient {
  clientId: string;
  /** Shown once: only its HMAC is stored. */
  clientSecret: string;
  name: string;
  createdAt: string;
}

/** `tokenver clients create <name>`: a service client of introspection (docs/api.md section 7). */
export async function createClient(core: Core, name: string, options: ActorOptions = {}): Promise<CreatedClient> {
  const trimmed = typeof name === "string" ? name.trim() : "";
  if (trimmed.length === 0 || trimmed.length > 200) {
    throw new AuthError("validation_failed", "The name is required (at most 200 characters).", {
      errors: [{ field: "name", message: "must be 1 to 200 characters" }],
    });
  }
  if (trimmed.includes("\u0000")) throw validationFailed([{ field: "name", message: HOLDS_NUL }]);
  const clientId = newClientId();
  const clientSecret = newClientSecret();
  const createdAt = isoAt(core.config.clock());
  await failClosed(() =>
    insertClient(core.db, { id: clientId, name: trimmed, secret_hash: hashClientSecret(core, clientSecret), created_at: createdAt }),
  );
  recordEvent(core, { type: "client.created", actor: options.actor ?? "system", detail: { client_id: clientId, name: trimmed } });
  return { clientId, clientSecret, name: trimmed, createdAt };
}
