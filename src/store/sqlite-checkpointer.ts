import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { SqliteHandle } from "./sqlite-handle.js";

/** How often the checkpointing thread copies the write-ahead log back into the file, ms. */
export const CHECKPOINT_INTERVAL_MS = 200;

/** SQLite's own default, which the serving connection returns to if the thread is gone. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/**
 * The serving connection's own checkpoint while the thread runs: a bound, not the work. SQLite
 * starts the log over only after a checkpoint that no commit overtook, and under steady writes the
 * thread's are overtaken (a commit lands while it syncs): the log would grow without end. At this
 * many pages (16 MB) the serving connection checkpoints once itself; the thread has copied nearly
 * all of it already, so that copies only the last moments of writes, and the log starts over.
 */
export const SAFETY_AUTOCHECKPOINT_PAGES = 4000;

/** Said once through `onWarning` when the server's connection takes its checkpoints back; no path, no driver message. */
export const FALLBACK_WARNING =
  "SQLite checkpoints: the checkpointing thread could not start or ended; the server's connection checkpoints itself again (a pause of about 10 ms every 1,000 pages of writes)";

// Evaluated in the thread, as a script or as a module (the application may run with
// --input-type=module): so only dynamic imports, which both have (as in hashing-threads.ts).
const SOURCE = `
(async () => {
  const { parentPort, workerData } = await import("node:worker_threads");
  const loaded = await import(workerData.binding);
  const SQLite = loaded.default ?? loaded;
  const db = new SQLite(workerData.file, { fileMustExist: true, timeout: 0 });
  const timer = setInterval(() => {
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch (error) {
      // Another connection's checkpoint holds the lock (a command beside the server): next time.
      const code = String(error?.code);
      if (!code.startsWith("SQLITE_BUSY") && !code.startsWith("SQLITE_LOCKED")) throw error;
    }
  }, workerData.intervalMs);
  parentPort.once("message", () => {
    clearInterval(timer);
    db.close();
    parentPort.close();
  });
  parentPort.postMessage("ready");
})();
`;

/**
 * The checkpoints of a SQLite file that tokenver serves, on a thread of their own.
 *
 * In WAL mode SQLite copies the log back into the database file (a checkpoint) in the commit that
 * takes the log past 1,000 pages, on the connection that commits; better-sqlite3 runs it on the
 * main thread: about 10 ms (4 MB copied, the file synced) once every 80 sign-ins or so, in which no
 * request is answered (docs/benchmark.md, the login storm). So a second connection on a worker
 * thread runs a PASSIVE checkpoint every CHECKPOINT_INTERVAL_MS: it takes no lock a reader or a
 * writer waits for, copies only what every reader is done with, and changes no `data_version`
 * (external-writes.ts sees no commit in it). The serving connection checkpoints only at
 * SAFETY_AUTOCHECKPOINT_PAGES, what is left then being a few moments of writes. If the thread
 * cannot start, cannot open the file or dies, the serving connection checkpoints as SQLite does
 * by default.
 */
export class SqliteCheckpointer {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #exited: Promise<void>;
  #stopping = false;

  /** A thread for `file`, or none (SQLite's own checkpoints) where no worker thread can start. */
  static start(
    sqlite: SqliteHandle,
    file: string,
    onWarning: (message: string) => void = () => {},
    intervalMs = CHECKPOINT_INTERVAL_MS,
  ): SqliteCheckpointer | undefined {
    try {
      return new SqliteCheckpointer(sqlite, file, onWarning, intervalMs);
    } catch {
      // No worker threads here (a permission model that forbids them, say).
      giveCheckpointsBack(sqlite, onWarning);
      return undefined;
    }
  }

  private constructor(sqlite: SqliteHandle, file: string, onWarning: (message: string) => void, intervalMs: number) {
    const binding = pathToFileURL(createRequire(import.meta.url).resolve("better-sqlite3")).href;
    sqlite.pragma(`wal_autocheckpoint = ${SAFETY_AUTOCHECKPOINT_PAGES}`);
    this.#worker = new Worker(SOURCE, { eval: true, workerData: { binding, file, intervalMs } });
    // The serving connection's close ends the process's use of the file, not this thread.
    this.#worker.unref();
    // Gone before stop(): its error (a file it cannot open) has nowhere else to go.
    this.#worker.on("error", () => {});
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once("message", () => resolve());
      this.#worker.once("exit", () => reject(new Error("the checkpointing thread ended")));
    });
    this.#ready.catch(() => {});
    this.#exited = new Promise((resolve) =>
      this.#worker.once("exit", () => {
        if (!this.#stopping) {
          try {
            giveCheckpointsBack(sqlite, onWarning);
          } catch {
            // The serving connection is closed already: nothing left to checkpoint.
          }
        }
        resolve();
      }),
    );
  }

  /** Resolves once the thread's connection is open (checkpoints run from then on); rejects if the thread ended first. */
  ready(): Promise<void> {
    this.#worker.ref();
    return this.#ready.finally(() => {
      if (!this.#stopping) this.#worker.unref();
    });
  }

  /** Closes the thread's connection and waits for the thread to end; before the serving connection closes. */
  async stop(): Promise<void> {
    this.#stopping = true;
    // Held open until its connection has closed, even if nothing else keeps the process alive.
    this.#worker.ref();
    this.#worker.postMessage("stop");
    const late = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(late);
  }
}

/** The serving connection checkpoints as SQLite does by default again, and says so once. */
function giveCheckpointsBack(sqlite: SqliteHandle, onWarning: (message: string) => void): void {
  sqlite.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
  onWarning(FALLBACK_WARNING);
}
