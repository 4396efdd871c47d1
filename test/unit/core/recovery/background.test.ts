// src/core/recovery/background.ts: the work a public request (forgot password, resend) starts and
// does not wait for. It runs after the caller has its answer, never inside the call; a failure is
// one warning naming the work (never what it was about), never a rejection; `settle(core)` waits
// for every task of that core, including one started by another task, and for no other core's.
// background.ts reads nothing of the core but `config.onWarning`, so a bare object stands in.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { inBackground, settle } from "../../../../src/core/recovery/background.js";

function fakeCore() {
  const warnings: string[] = [];
  const core = { config: { onWarning: (m: string) => warnings.push(m) } } as unknown as Core;
  return { core, warnings };
}

/** A promise and the function that resolves it. */
function gate() {
  let open: () => void = () => {};
  const closed = new Promise<void>((resolve) => (open = resolve));
  return { closed, open };
}

/** A few turns of the event loop: enough for anything not waiting on a gate to end. */
async function turns(n = 5) {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("inBackground and settle", () => {
  test("the work does not start inside the call, and settle waits for it", async () => {
    const { core } = fakeCore();
    let ran = false;
    inBackground(core, "password reset", async () => {
      ran = true;
    });
    assert.equal(ran, false, "not run inside the call");
    // Not on the microtask queue either: the caller's own awaits (and the response) go first.
    for (let i = 0; i < 20; i++) await null;
    assert.equal(ran, false, "not run before the caller answers");
    await settle(core);
    assert.equal(ran, true);
  });

  test("settle waits for every task of the core, the first one too", async () => {
    const { core } = fakeCore();
    const first = gate();
    let done = 0;
    inBackground(core, "a", async () => {
      await first.closed;
      done++;
    });
    inBackground(core, "b", async () => {
      done++;
    });
    let settled = false;
    const settling = settle(core).then(() => (settled = true));
    await turns();
    assert.equal(settled, false, "the first task still runs");
    assert.equal(done, 1);
    first.open();
    await settling;
    assert.equal(done, 2);
  });

  test("settle also waits for a task that a task started", async () => {
    const { core } = fakeCore();
    let inner = false;
    inBackground(core, "outer", async () => {
      inBackground(core, "inner", async () => {
        await turns(2);
        inner = true;
      });
    });
    await settle(core);
    assert.equal(inner, true);
  });

  test("settle of one core does not wait for another core's work, and ends once its own is done", async () => {
    const a = fakeCore();
    const b = fakeCore();
    const held = gate();
    inBackground(b.core, "held", () => held.closed);
    inBackground(a.core, "quick", async () => {});
    await settle(a.core);
    await settle(a.core); // nothing left: at once
    held.open();
    await settle(b.core);
  });

  test("a failure is one warning naming the work, never a rejection", async () => {
    const { core, warnings } = fakeCore();
    inBackground(core, "verification resend", async () => {
      throw new Error("SQLITE_ERROR: no such table, for someone@example.test");
    });
    await settle(core);
    assert.deepEqual(warnings, ["verification resend: a store did not answer; the mail was not queued"]);
  });

  test("settle of a core that never started anything resolves", async () => {
    await settle(fakeCore().core);
  });
});
