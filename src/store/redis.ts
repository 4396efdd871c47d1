import type { Store } from "./database.js";
import type { ResolvedOptions } from "../core/options.js";
import type { CounterStore } from "./rate-limit.js";
import type { RevocationState } from "./revocation.js";
import { OptionError } from "../core/options.js";

/** Redis shared state for several nodes: see issue "Several nodes". Not built yet. */
export async function connectRedisState(_store: Store, _options: ResolvedOptions): Promise<{ revocation: RevocationState; counters: CounterStore }> {
  throw new OptionError("redisUrl", "is not supported yet");
}
