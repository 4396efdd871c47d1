/**
 * The part of a better-sqlite3 connection that tokenver uses, declared here rather than imported
 * from `@types/better-sqlite3`: the published types then need no devDependency (an application
 * type-checking with `skipLibCheck: false` resolves every import of them), and the binding itself
 * is loaded only when a SQLite URL is opened (database.ts).
 */
export interface SqliteStatement<Params extends unknown[], Row> {
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
  run(...params: Params): { changes: number };
}

export interface SqliteHandle {
  /** The file's path, or ":memory:". */
  readonly name: string;
  readonly inTransaction: boolean;
  /** False once closed. */
  readonly open: boolean;
  prepare<Params extends unknown[] = unknown[], Row = unknown>(source: string): SqliteStatement<Params, Row>;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
  transaction<F extends (...args: any[]) => unknown>(fn: F): (...args: Parameters<F>) => ReturnType<F>;
  close(): unknown;
}
