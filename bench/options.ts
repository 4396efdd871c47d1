/** The command line of `npm run bench` (see docs/benchmark.md): parsing, defaults, `--help`. */
import { parseArgs } from "node:util";
import type { LoadEngine } from "./load.js";

export interface Options {
  rounds: number;
  duration: number;
  users: number;
  tokens: number;
  /** Logins per second of the storm; undefined: what the cores can hash (measure.ts, stormRateFor). */
  stormRate: number | undefined;
  /** Requests a second of the paced storm pair (cases 4a/4b): a load the server carries without saturating. */
  pacedRate: number;
  /** The load generator; undefined: wrk when it is on PATH, else autocannon. */
  load: LoadEngine | undefined;
  /** Seconds of each write-path measurement (register, login, refresh); 0 skips them. */
  flows: number;
  /** Run the better-auth peer (bench/peers/) when it is installed. */
  peers: boolean;
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
      "paced-rate": { type: "string" },
      out: { type: "string" },
      pg: { type: "string" },
      redis: { type: "string" },
      quick: { type: "boolean", default: false },
      dist: { type: "boolean", default: false },
      only: { type: "string" },
      threadpool: { type: "string" },
      load: { type: "string" },
      flows: { type: "string" },
      "no-peers": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm run bench -- [--rounds N=3] [--duration S=5] [--users N=10000] [--tokens N=20000] [--storm-rate N|auto]\n" +
        "                 [--paced-rate N=2000]\n" +
        "                 [--out DIR] [--pg URL] [--redis URL] [--quick] [--dist] [--only sqlite-notes,pgredis-1,...] [--threadpool N]\n" +
        "                 [--load wrk|autocannon] [--flows S=5 (0: skip)] [--no-peers]\n",
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
    rounds: Math.floor(number(values.rounds, quick ? 2 : 3, "rounds")),
    duration: number(values.duration, quick ? 2 : 5, "duration"),
    users,
    tokens: Math.min(2 * users, Math.floor(number(values.tokens, quick ? 2000 : 20_000, "tokens"))),
    stormRate:
      values["storm-rate"] === undefined || values["storm-rate"] === "auto" ? undefined : number(values["storm-rate"], 50, "storm-rate"),
    pacedRate: Math.floor(number(values["paced-rate"], 2000, "paced-rate")),
    load: loadEngine(values.load),
    flows: values.flows === "0" ? 0 : number(values.flows, quick ? 2 : 5, "flows"),
    peers: !values["no-peers"],
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

function loadEngine(value: string | undefined): LoadEngine | undefined {
  if (value === undefined || value === "wrk" || value === "autocannon") return value;
  throw new Error("--load must be wrk or autocannon");
}
