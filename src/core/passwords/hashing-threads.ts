import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

type Job = { op: "hash" | "verify"; args: unknown[] };
type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

// Evaluated in each thread, as a script or as a module (the application may run with
// --input-type=module): so only dynamic imports, which both have.
const SOURCE = `
(async () => {
  const { parentPort, workerData } = await import("node:worker_threads");
  const loaded = await import(workerData.argon2);
  const argon2 = loaded.default ?? loaded;
  // Linux: this thread becomes SCHED_BATCH (chrt, util-linux). Its share of the CPU stays what it
  // was; only a wake-up no longer preempts the thread running on that core. Elsewhere, or without
  // chrt, it stays an ordinary thread.
  if (process.platform === "linux") {
    try {
      const { readlinkSync } = await import("node:fs");
      const { execFile } = await import("node:child_process");
      const tid = readlinkSync("/proc/thread-self").split("/").pop();
      execFile("chrt", ["--batch", "--pid", "0", tid], () => {}).unref();
    } catch {}
  }
  parentPort.on("message", ({ id, op, args }) => {
    try {
      parentPort.postMessage({ id, value: op === "hash" ? argon2.hashSync(...args) : argon2.verifySync(...args) });
    } catch (error) {
      parentPort.postMessage({ id, error: String((error && error.message) || error) });
    }
  });
})();
`;

const ARGON2 = pathToFileURL(createRequire(import.meta.url).resolve("@node-rs/argon2")).href;

/** One thread: its jobs in flight by id. Referenced (keeps the process alive) only while it has some. */
class HashThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #onGone: () => void;

  constructor(onGone: () => void) {
    this.#onGone = onGone;
    this.#worker = new Worker(SOURCE, { eval: true, workerData: { argon2: ARGON2 } });
    this.#worker.unref();
    this.#worker.on("message", ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
      const pending = this.#pending.get(id);
      if (pending === undefined) return;
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#worker.unref();
      if (error === undefined) pending.resolve(value);
      else pending.reject(new Error(error));
    });
    // A thread that dies fails its jobs; the next job starts another.
    const gone = () => {
      this.#onGone();
      for (const pending of this.#pending.values()) pending.reject(new HashThreadGoneError());
      this.#pending.clear();
    };
    this.#worker.on("error", gone);
    this.#worker.on("exit", gone);
  }

  get load(): number {
    return this.#pending.size;
  }

  stop(): Promise<number> {
    return this.#worker.terminate();
  }

  run(job: Job): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ id, ...job });
    });
  }
}

/** A hashing thread died with the job (out of memory, argon2's binding missing): no answer, not a wrong one. */
export class HashThreadGoneError extends Error {
  constructor() {
    super("tokenver: a hashing thread stopped before answering");
  }
}

const threads = new Set<HashThread>();

/** How many hashing threads the process has now (tests, the benchmark). */
export function hashThreadCount(): number {
  return threads.size;
}

/** Jobs handed to the hashing threads and not answered yet (tests). */
export function hashJobsInFlight(): number {
  let jobs = 0;
  for (const thread of threads) jobs += thread.load;
  return jobs;
}

/**
 * Stops every hashing thread at once, as a crash would: their jobs in flight fail with
 * `HashThreadGoneError` and the next job starts a new thread. For the tests of that path.
 */
export async function stopHashThreads(): Promise<void> {
  await Promise.all([...threads].map((thread) => thread.stop()));
}

/**
 * Runs argon2 on tokenver's own hashing threads, never on the main thread nor on libuv's pool
 * (which the application's file system and DNS work share): a job goes to the least loaded
 * thread, a new one while fewer than `maxThreads` exist. The callers bound how many run at once
 * (hashing.ts, `HashQueue`); a thread holds a queue of its own only when several services share
 * the process.
 *
 * Why threads of its own: on libuv's pool, each hash the event loop handed over woke a thread of
 * the same priority, which the kernel ran at once on the event loop's core, and the request in
 * progress waited for it (docs/benchmark.md, "The login storm"). Scheduled as batch work, a
 * hashing thread waits for the next tick or another core instead.
 */
export function onHashThread<T>(maxThreads: number, op: Job["op"], args: unknown[]): Promise<T> {
  let chosen: HashThread | undefined;
  for (const thread of threads) if (chosen === undefined || thread.load < chosen.load) chosen = thread;
  if (chosen === undefined || (chosen.load > 0 && threads.size < maxThreads)) {
    const thread: HashThread = new HashThread(() => threads.delete(thread));
    threads.add(thread);
    chosen = thread;
  }
  return chosen.run({ op, args }) as Promise<T>;
}
