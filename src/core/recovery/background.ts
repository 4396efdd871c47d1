import type { Core } from "../context.js";

/**
 * Work a public request starts and does not wait for (docs/recovery.md, "Enumeration"): `POST
 * /password/forgot` and `POST /email/verify/resend` answer `202` the moment the request is
 * counted, and look the account up, store the link and queue the mail here, after the answer.
 * So the answer is the same, in the same time, whether or not the account exists. A failure is
 * logged through `onWarning` (never the address). `settle(core)` waits for what is under way
 * (`auth.close()` does, and tests may).
 */
const pending = new WeakMap<Core, Set<Promise<void>>>();

export function inBackground(core: Core, what: string, work: () => Promise<void>): void {
  let set = pending.get(core);
  if (set === undefined) {
    set = new Set();
    pending.set(core, set);
  }
  const task: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
    .then(work)
    .catch(() => core.config.onWarning(`${what}: a store did not answer; the mail was not queued`))
    .finally(() => set.delete(task));
  set.add(task);
}

/** Resolves once the background work started so far has ended. */
export async function settle(core: Core): Promise<void> {
  const set = pending.get(core);
  while (set !== undefined && set.size > 0) await Promise.allSettled([...set]);
}
