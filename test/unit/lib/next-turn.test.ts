// nextTurn (src/lib/next-turn.ts): a later turn of the event loop, not a microtask. A sign-in awaits
// it between its steps so that what waits (other requests' I/O, timers) runs in between; a
// resolved promise would let nothing in.
import assert from "node:assert/strict";
import { stat } from "node:fs";
import { test } from "node:test";
import { nextTurn } from "../../../src/lib/next-turn.js";

test("callbacks queued before it (setImmediate) have run when it resolves; microtasks alone would not let them", async () => {
  const ran: string[] = [];
  setImmediate(() => ran.push("immediate"));
  await Promise.resolve();
  assert.deepEqual(ran, []);
  await nextTurn();
  assert.deepEqual(ran, ["immediate"]);
});

test("I/O that completed meanwhile is handled before it resolves", async () => {
  const { port1, port2 } = new MessageChannel();
  const received: unknown[] = [];
  port1.on("message", (message) => received.push(message));
  port2.postMessage("waiting");
  // A message posted is delivered on a later turn: a loop of nextTurn lets it in, a busy loop would not.
  for (let i = 0; i < 10 && received.length === 0; i++) await nextTurn();
  port1.close();
  assert.deepEqual(received, ["waiting"]);
});

test("awaited in an I/O callback, it lets a timer that is due run first (one setImmediate would not)", async () => {
  const ran: string[] = [];
  await new Promise<void>((done, fail) => {
    // An fs callback runs in the loop's poll phase, as a request's body or a hash's answer does.
    stat(".", () => {
      setTimeout(() => ran.push("timer"), 0);
      // The timer (1 ms at least) is due before this callback returns.
      const until = performance.now() + 3;
      while (performance.now() < until);
      nextTurn()
        .then(() => ran.push("next turn"))
        .then(() => done(), fail);
    });
  });
  assert.deepEqual(ran, ["timer", "next turn"]);
});
