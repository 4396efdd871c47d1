/** The command line of `npm run bench` (see docs/benchmark.md): parsing, defaults, `--help`. */
import { parseArgs } from "node:util";

export interface Options {
  rounds: number;
  duration: number;
  users: number;
  tokens: number;
  stormRate: number;
  out: string | undefined;
  pg: string;
  redis: string;
  dist: boolean;
  /** Case ids to run (the limit always runs); undefined: all. */
  only: string[] | undefined;
  /** UV_THREADPOOL_SIZE for the tokenver servers (argon2 runs there); undefined: Node's default (4). */
  threadpool: number | undefined;
}

export function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string" },
      duration: { type: "string" },
      users: { type: "string" },
      tokens: { type: "string" },
      "storm-rate": { type: "string" },
      out: { type: "string" },
      pg: { type: "string" },
      redis: { type: "string" },
      quick: { type: "boolean", default: false },
      dist: { type: "boolean", default: false },
      only: { type: "string" },
      threadpool: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm run bench -- [--rounds N=5] [--duration S=4] [--users N=10000] [--tokens N=20000] [--storm-rate N=50]\n" +
        "                 [--out DIR] [--pg URL] [--redis URL] [--quick] [--dist] [--only sqlite-notes,pgredis-1,...] [--threadpool N]\n",
    );
    process.exit(0);
  }
  const quick = values.quick;
  const number = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const users = Math.floor(number(values.users, quick ? 2000 : 10_000, "users"));
  return {
    rounds: Math.floor(number(values.rounds, quick ? 2 : 5, "rounds")),
    duration: number(values.duration, quick ? 2 : 4, "duration"),
    users,
    tokens: Math.min(2 * users, Math.floor(number(values.tokens, quick ? 2000 : 20_000, "tokens"))),
    stormRate: number(values["storm-rate"], 50, "storm-rate"),
    out: values.out,
    pg: values.pg ?? process.env.TOKENVER_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    redis: values.redis ?? process.env.TOKENVER_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
    dist: values.dist,
    threadpool: values.threadpool === undefined ? undefined : Math.floor(number(values.threadpool, 4, "threadpool")),
    only: values.only
      ?.split(",")
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  };
}
