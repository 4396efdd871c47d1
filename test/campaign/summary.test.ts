import assert from "node:assert/strict";
import { test } from "node:test";
import { check } from "../../scripts/campaign/checker.js";
import type { FaultRecord, Operation } from "../../scripts/campaign/history.js";
import { formatSummary, resultOf, summarize } from "../../scripts/campaign/summary.js";

const issued = [
  { id: "a1", kind: "access" as const, user: "u1", session: "s1", version: 0 },
  { id: "r1", kind: "refresh" as const, user: "u1", session: "s1" },
];

function op(id: number, start: number, end: number, node: number, status: number | null, extra: Partial<Operation> = {}): Operation {
  return { id, client: 0, type: "profile", node, start, end, status, token: "a1", ...extra };
}

test("summarize: results by type, causes of unavailability, each fault's span and window", () => {
  const operations: Operation[] = [
    { id: 1, client: 0, type: "register", node: 0, start: 0, end: 100, status: 201, user: "u1", issued, version: 0 },
    op(2, 200, 300, 0, 200, { version: 0 }),
    op(3, 1_000, 1_050, 1, 503, { code: "service_unavailable" }),
    op(4, 1_100, 1_101, 2, null, { error: "ECONNREFUSED" }),
    op(5, 2_000, 12_000, 1, null, { error: "timeout" }),
    op(6, 30_000, 30_100, 1, 200, { version: 0 }),
    op(7, 70_000, 70_100, 0, null, { error: "ECONNRESET" }),
  ];
  const faults: FaultRecord[] = [
    { type: "fault", fault: "node-pause", node: 1, start: 900, end: 2_500, detail: "stopped 1600 ms" },
    { type: "fault", fault: "redis-restart", start: 40_000, end: 41_000 },
  ];
  const s = summarize(operations, faults);
  assert.equal(s.operations.total, 7);
  assert.deepEqual(s.operations.byType.profile, { "200": 2, "503 service_unavailable": 1, ECONNREFUSED: 1, timeout: 1, ECONNRESET: 1 });
  assert.equal(resultOf(operations[2]!), "503 service_unavailable");
  assert.deepEqual(s.availability.causes, { status503: 1, otherStatus5xx: 0, refused: 1, timeout: 1, other: 1 });
  assert.equal(s.availability.rate503, round(1 / 7));
  assert.equal(s.availability.unavailableRate, round(4 / 7));
  // Outside both fault spans: the register, the reads at 0.2 s and 30 s, and the reset at 70 s.
  assert.equal(s.availability.unavailableRateOutsideFaults, round(1 / 4));

  const [pause, restart] = s.faults.list;
  // The pause's span runs 20 s past its end (22.5 s): ops 3, 4, 5; not op 6 at 30 s.
  assert.equal(pause!.spanEnd, 22.5);
  assert.equal(pause!.operations, 3);
  assert.equal(pause!.unavailable, 3);
  assert.deepEqual(pause!.onNode, { operations: 2, unavailable: 2 });
  assert.deepEqual(pause!.window, { from: 1, to: 12, seconds: 11 });
  assert.equal(pause!.recoveredAfter, 9.5);
  assert.equal(pause!.slow, 1);
  assert.equal(pause!.longest, 10);
  assert.equal(restart!.operations, 0);
  assert.equal(restart!.window, null);
  assert.deepEqual(s.faults.byKind, { "node-pause": 1, "redis-restart": 1 });

  const text = formatSummary(s, check(operations));
  assert.match(text, /operations: 7/);
  assert.match(text, /violations: 0/);
});

test("summarize: a fault's span stops where the next fault starts, never before its own end", () => {
  const operations: Operation[] = [
    { id: 1, client: 0, type: "register", node: 0, start: 0, end: 100, status: 201, user: "u1", issued, version: 0 },
    op(2, 5_000, 5_100, 0, 503),
    op(3, 9_000, 9_100, 0, 503),
  ];
  const faults: FaultRecord[] = [
    { type: "fault", fault: "pg-cut", start: 1_000, end: 6_000 },
    { type: "fault", fault: "node-kill", node: 0, start: 2_000, end: 3_000 },
    { type: "fault", fault: "redis-pause", start: 8_000, end: 8_500 },
  ];
  const [cut, kill, pause] = summarize(operations, faults).faults.list;
  assert.equal(cut!.spanEnd, 6);
  assert.equal(cut!.operations, 1);
  assert.equal(kill!.spanEnd, 8);
  assert.equal(kill!.operations, 1);
  assert.equal(pause!.operations, 1);
});

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
