/**
 * Figures of a campaign from its history and the checker's report: operations by type and result,
 * faults with the unavailability around each, 503 rates. Pure, like the checker.
 */
import type { CheckResult } from "./checker.js";
import { isIndeterminate, type FaultRecord, type Operation } from "./history.js";

export interface FaultSummary {
  fault: string;
  node?: number;
  /** Seconds on the history's clock. */
  start: number;
  end: number;
  detail?: string;
  /**
   * Operations that started in the fault's span: from its start to `AFTER_MS` after its end, or
   * to the next fault's start if that comes first (but never before the fault's own end).
   */
  operations: number;
  /** The span's end, seconds. */
  spanEnd: number;
  /** For a fault of one node: the operations of the span sent to that node, and how many were unavailable. */
  onNode?: { operations: number; unavailable: number };
  /** Of those, answered 5xx or not at all. */
  unavailable: number;
  unavailableRate: number;
  /** From the first unavailable operation's start to the last one's end in that span, seconds; null if none. */
  window: { from: number; to: number; seconds: number } | null;
  /** How long after the fault ended the last unavailable operation of the span ended, seconds. */
  recoveredAfter: number | null;
  /** Of the unavailable ones: answered 503, refused connections (node down), timeouts, others. */
  causes: Causes;
  /** Operations of the span that took over a second (held up rather than refused), and the longest, seconds. */
  slow: number;
  longest: number;
}

export interface Causes {
  status503: number;
  otherStatus5xx: number;
  refused: number;
  timeout: number;
  other: number;
}

function causesOf(ops: readonly Operation[]): Causes {
  const c: Causes = { status503: 0, otherStatus5xx: 0, refused: 0, timeout: 0, other: 0 };
  for (const op of ops) {
    if (op.status === 503) c.status503++;
    else if (op.status !== null && op.status >= 500) c.otherStatus5xx++;
    else if (op.status === null && op.error === "ECONNREFUSED") c.refused++;
    else if (op.status === null && op.error === "timeout") c.timeout++;
    else if (op.status === null) c.other++;
  }
  return c;
}

export interface Summary {
  operations: {
    total: number;
    perSecond: number;
    /** type -> result ("200", "401 token_revoked", "503 service_unavailable", "timeout", ...) -> count. */
    byType: Record<string, Record<string, number>>;
  };
  availability: {
    /** Share of operations answered 503. */
    rate503: number;
    /** Share answered 5xx or not at all. */
    unavailableRate: number;
    /** Why: counts of 503s, other 5xx, refused connections (a node down), timeouts, other failures (resets). */
    causes: Causes;
    /** Share answered 5xx or not at all, outside every fault span. */
    unavailableRateOutsideFaults: number;
    /** Maximal runs of whole seconds in which at least 10% of operations were unavailable. */
    windows: { from: number; to: number; seconds: number; unavailableRate: number }[];
    /** Latency of answered operations, ms. */
    latency: { p50: number; p99: number; max: number };
  };
  faults: { total: number; byKind: Record<string, number>; list: FaultSummary[] };
}

/** How long after a fault's end its effects are still attributed to it. */
export const AFTER_MS = 20_000;

const seconds = (ms: number) => Math.round(ms) / 1000;

export function resultOf(op: Operation): string {
  if (op.status === null) return op.error ?? "no answer";
  return op.code ? `${op.status} ${op.code}` : String(op.status);
}

export function summarize(operations: readonly Operation[], faults: readonly FaultRecord[]): Summary {
  const byType: Record<string, Record<string, number>> = {};
  let n503 = 0;
  let unavailable = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const op of operations) {
    const results = (byType[op.type] ??= {});
    const r = resultOf(op);
    results[r] = (results[r] ?? 0) + 1;
    if (op.status === 503) n503++;
    if (isIndeterminate(op)) unavailable++;
    first = Math.min(first, op.start);
    last = Math.max(last, op.end);
  }
  const total = operations.length;
  const span = total > 0 ? last - first : 0;

  const sorted = [...operations].sort((a, b) => a.start - b.start);
  const ordered = [...faults].sort((a, b) => a.start - b.start);
  const list = ordered.map((f, i): FaultSummary => {
    const next = ordered[i + 1]?.start ?? Infinity;
    const until = Math.max(f.end, Math.min(f.end + AFTER_MS, next));
    const ops = sorted.filter((op) => op.start >= f.start && op.start <= until);
    const bad = ops.filter(isIndeterminate);
    const mine = f.node === undefined ? undefined : ops.filter((op) => op.node === f.node);
    const from = bad.length > 0 ? bad.reduce((m, o) => Math.min(m, o.start), Infinity) : undefined;
    const to = bad.length > 0 ? bad.reduce((m, o) => Math.max(m, o.end), -Infinity) : undefined;
    return {
      fault: f.fault,
      ...(f.node === undefined ? {} : { node: f.node }),
      start: seconds(f.start),
      end: seconds(f.end),
      ...(f.detail ? { detail: f.detail } : {}),
      operations: ops.length,
      spanEnd: seconds(until),
      ...(mine === undefined ? {} : { onNode: { operations: mine.length, unavailable: mine.filter(isIndeterminate).length } }),
      unavailable: bad.length,
      unavailableRate: ops.length > 0 ? round(bad.length / ops.length) : 0,
      window: from === undefined ? null : { from: seconds(from), to: seconds(to!), seconds: seconds(to! - from) },
      recoveredAfter: to === undefined ? null : seconds(Math.max(0, to - f.end)),
      causes: causesOf(bad),
      slow: ops.filter((o) => o.end - o.start > 1_000).length,
      longest: seconds(ops.reduce((m, o) => Math.max(m, o.end - o.start), 0)),
    };
  });

  const inFault = (t: number) => faults.some((f) => t >= f.start && t <= f.end + AFTER_MS);
  const outside = operations.filter((op) => !inFault(op.start));

  // Per-second buckets.
  const buckets = new Map<number, { total: number; bad: number }>();
  for (const op of operations) {
    const b = Math.floor(op.start / 1000);
    const bucket = buckets.get(b) ?? { total: 0, bad: 0 };
    bucket.total++;
    if (isIndeterminate(op)) bucket.bad++;
    buckets.set(b, bucket);
  }
  const windows: Summary["availability"]["windows"] = [];
  let open: { from: number; to: number; total: number; bad: number } | undefined;
  for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
    const { total: t, bad } = buckets.get(b)!;
    if (bad / t >= 0.1) {
      if (open !== undefined && open.to === b) Object.assign(open, { to: b + 1, total: open.total + t, bad: open.bad + bad });
      else {
        if (open !== undefined) windows.push(close(open));
        open = { from: b, to: b + 1, total: t, bad };
      }
    }
  }
  if (open !== undefined) windows.push(close(open));

  const byKind: Record<string, number> = {};
  for (const f of faults) byKind[f.fault] = (byKind[f.fault] ?? 0) + 1;
  return {
    operations: { total, perSecond: span > 0 ? round(total / (span / 1000)) : 0, byType },
    availability: {
      rate503: total > 0 ? round(n503 / total) : 0,
      unavailableRate: total > 0 ? round(unavailable / total) : 0,
      causes: causesOf(operations),
      unavailableRateOutsideFaults: outside.length > 0 ? round(outside.filter(isIndeterminate).length / outside.length) : 0,
      windows,
      latency: latency(operations),
    },
    faults: { total: faults.length, byKind, list },
  };
}

function latency(operations: readonly Operation[]) {
  const ms = operations
    .filter((o) => o.status !== null)
    .map((o) => o.end - o.start)
    .sort((a, b) => a - b);
  const at = (q: number) => (ms.length === 0 ? 0 : Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! * 10) / 10);
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

function close(w: { from: number; to: number; total: number; bad: number }) {
  return { from: w.from, to: w.to, seconds: w.to - w.from, unavailableRate: round(w.bad / w.total) };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** A few lines for the terminal. */
export function formatSummary(summary: Summary, result: CheckResult): string {
  const lines: string[] = [];
  const o = summary.operations;
  lines.push(`operations: ${o.total} (${o.perSecond}/s)`);
  for (const [type, results] of Object.entries(o.byType).sort()) {
    const parts = Object.entries(results)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r}: ${n}`);
    lines.push(`  ${type}: ${parts.join(", ")}`);
  }
  const a = summary.availability;
  lines.push(
    `availability: 503 rate ${(a.rate503 * 100).toFixed(2)}%, unavailable (5xx or no answer) ${(a.unavailableRate * 100).toFixed(2)}% ` +
      `(${(a.unavailableRateOutsideFaults * 100).toFixed(2)}% outside fault spans), ${a.windows.length} unavailability window(s); ` +
      `latency p50 ${a.latency.p50} ms, p99 ${a.latency.p99} ms, max ${a.latency.max} ms`,
  );
  lines.push(
    `  unavailable by cause: 503 ${a.causes.status503}, other 5xx ${a.causes.otherStatus5xx}, connection refused (node down) ${a.causes.refused}, ` +
      `timeout ${a.causes.timeout}, other (reset) ${a.causes.other}`,
  );
  lines.push(
    `faults: ${summary.faults.total} (${Object.entries(summary.faults.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")})`,
  );
  const c = result.counts;
  lines.push(
    `checked: ${c.operations} operations, ${c.users} users, ${c.sessions} sessions, ${c.tokens} tokens, ` +
      `${c.definiteRevocations} completed revocations (${c.indeterminateRevocations} indeterminate), ${c.acceptances} acceptances, ` +
      `${c.versionObservations} version observations`,
  );
  lines.push(
    `violations: ${result.violations.length + result.omitted.violations}; anomalies: ${result.anomalies.length + result.omitted.anomalies}`,
  );
  for (const v of result.violations.slice(0, 10)) lines.push(`  VIOLATION ${v.kind}: ${v.message}`);
  for (const v of result.anomalies.slice(0, 5)) lines.push(`  anomaly ${v.kind}: ${v.message}`);
  return lines.join("\n");
}
