import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { judge, metricValue, readProc, type ProcessSample } from "../../scripts/campaign/soak-sample.js";

test("soak sampling: RSS and open fds of a live process from /proc, nulls for one that is gone", async () => {
  // A process that holds 64 MiB and 20 more file descriptors than it started with.
  const child = spawn(
    process.execPath,
    [
      "-e",
      "const fs = require('fs'); globalThis.keep = Buffer.alloc(64 * 2 ** 20, 1); for (let i = 0; i < 20; i++) fs.openSync(process.execPath, 'r'); console.log('ready'); setInterval(() => {}, 1000);",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    await once(child.stdout!, "data");
    const sample = readProc(child.pid!);
    assert.ok(sample.rss !== null && sample.rss > 64 * 2 ** 20, `rss ${sample.rss}`);
    assert.ok(sample.fds !== null && sample.fds >= 23, `fds ${sample.fds}`);
  } finally {
    child.kill("SIGKILL");
    await once(child, "exit");
  }
  assert.deepEqual(readProc(child.pid!), { rss: null, fds: null });
});

test("soak sampling: the heap in use from the Prometheus text", () => {
  const text = [
    "# HELP nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.",
    "nodejs_heap_size_total_bytes 51234816",
    "nodejs_heap_size_used_bytes 40123456",
    'nodejs_heap_space_size_used_bytes{space="old"} 1234',
  ].join("\n");
  assert.equal(metricValue(text, "nodejs_heap_size_used_bytes"), 40123456);
  assert.equal(metricValue(text, "process_open_fds"), null);
});

function series(f: (t: number) => Partial<ProcessSample>): ProcessSample[] {
  return Array.from({ length: 120 }, (_, i) => ({ t: i * 10, rss: 100e6, fds: 30, heap: 40e6, ...f(i * 10) }));
}

test("soak verdict: flat after the warm-up is within the bounds, growth in RSS, heap or fds is not", () => {
  // Growth during the warm-up does not count.
  const flat = judge(
    series((t) => ({ rss: t < 300 ? 50e6 + t * 1e5 : 100e6 + (t % 20) * 1e5 })),
    300,
  );
  assert.equal(flat.ok, true);
  assert.equal(flat.rss.warm, 100.5e6);
  const rss = judge(
    series((t) => ({ rss: 100e6 + Math.max(0, t - 300) * 5e4 })),
    300,
  ); // +40 MB by the end
  assert.deepEqual([rss.ok, rss.checks.rss], [false, false]);
  assert.ok(rss.rss.slopePer10Min! > 25e6);
  const fds = judge(
    series((t) => ({ fds: 30 + Math.floor(Math.max(0, t - 300) / 60) })),
    300,
  ); // one more a minute
  assert.deepEqual([fds.ok, fds.checks.fds], [false, false]);
  const heap = judge(
    series((t) => ({ heap: 40e6 + Math.max(0, t - 300) * 2e4 })),
    300,
  );
  assert.deepEqual([heap.ok, heap.checks.heap], [false, false]);
  // No samples at all is no verdict of "fine"; no heap (no metrics) is judged on RSS and fds.
  assert.equal(judge([], 300).ok, false);
  assert.equal(
    judge(
      series(() => ({ heap: null })),
      300,
    ).ok,
    true,
  );
});
