import { eraseEndedSeals } from "../../store/queries/browser.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";

/**
 * Erases the refresh grace's sealed successors when their window ends (docs/api.md section 6),
 * not only at the next prune: every node sweeps once per window (one indexed UPDATE, which finds
 * nothing most of the time; migration 0012), so a seal outlives its window by at most one more.
 * A sweep that fails is tried again at the next tick; the grace check refuses an ended seal by
 * its time anyway, so a late erase never extends a grace. Seals written by other nodes are judged
 * by this node's clock, so it waits the clock tolerance longer: a node whose clock runs ahead by
 * less than that never cuts another's window short.
 */
export function startSealSweep(core: Core): { stop(): void } {
  const windowMs = core.config.refreshGrace * 1000;
  if (windowMs <= 0) return { stop() {} };
  const endedMs = windowMs + core.config.clockTolerance * 1000;
  let running = false;
  let warned = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    eraseEndedSeals(core.db, isoAt(core.config.clock() - endedMs))
      .then(() => void (warned = false))
      .catch(() => {
        if (!warned) core.config.onWarning("erasing ended refresh-grace seals failed: the database did not answer; will retry");
        warned = true;
      })
      .finally(() => void (running = false));
  }, windowMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
