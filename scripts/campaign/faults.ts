import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster } from "./cluster.js";
import type { FaultRecord } from "./history.js";
import { Random } from "./random.js";

/**
 * The fault schedule: one fault after another (sometimes two at once, on different things), each
 * undone by itself, chosen by a seeded generator. Every fault is recorded with its start and end
 * on the history's clock.
 */

export const FAULT_WEIGHTS = {
  /** kill -9 a node, restart it on the same port after a moment. */
  "node-kill": 3,
  /** SIGSTOP a node for up to 9 s (longer than a lease), then SIGCONT. */
  "node-pause": 3,
  /** kill -9 Redis (it keeps nothing: no persistence), start it again. */
  "redis-restart": 2,
  /** SIGSTOP Redis for up to 4 s: a hung Redis. */
  "redis-pause": 1,
  /** Every node's way to PostgreSQL frozen (bytes held, delivered late). */
  "pg-pause": 2,
  /** Every node's PostgreSQL connections closed and refused for a while (backends terminated). */
  "pg-cut": 1,
  /** One node cut off from PostgreSQL. */
  "node-pg-cut": 1,
  /** One node's Redis subscriber connection closed (as CLIENT KILL would). */
  "subscriber-drop": 3,
  /** One node's Redis subscriber connection silent for good (no FIN): the node must notice. */
  "subscriber-silence": 1,
  /** One node's every Redis connection frozen for up to 8 s, then delivered late. */
  "node-redis-freeze": 2,
} as const;
export type FaultKind = keyof typeof FAULT_WEIGHTS;

const RESOURCE: Record<FaultKind, "node" | "redis" | "pg"> = {
  "node-kill": "node",
  "node-pause": "node",
  "redis-restart": "redis",
  "redis-pause": "redis",
  "pg-pause": "pg",
  "pg-cut": "pg",
  "node-pg-cut": "pg",
  "subscriber-drop": "node",
  "subscriber-silence": "node",
  "node-redis-freeze": "node",
};

export interface ScheduleOptions {
  seed: number;
  /** No fault starts after this time (history clock, ms). */
  until: number;
  /** First fault after this many ms. */
  warmupMs: number;
  /** Pause between faults, ms. */
  gapMs: [number, number];
  /** Probability that the next fault starts while the current one is still on. */
  overlap: number;
  now(): number;
  record(fault: FaultRecord): void;
  log(message: string): void;
}

export class FaultSchedule {
  #stopped = false;
  readonly #running = new Set<Promise<void>>();
  readonly #busy = new Set<string>();

  constructor(
    readonly cluster: Cluster,
    readonly options: ScheduleOptions,
  ) {}

  stop(): void {
    this.#stopped = true;
  }

  async run(): Promise<void> {
    const { options } = this;
    const random = new Random(options.seed ^ 0xfa17);
    await this.#sleep(options.warmupMs);
    while (!this.#stopped && options.now() < options.until) {
      const kind = random.weighted(FAULT_WEIGHTS);
      const node = random.int(this.cluster.nodes.length);
      const key = RESOURCE[kind] === "node" ? `node-${node}` : RESOURCE[kind];
      if (this.#busy.has(key)) {
        await this.#sleep(200);
        continue;
      }
      this.#busy.add(key);
      const task = this.#inject(kind, node, random).finally(() => {
        this.#busy.delete(key);
        this.#running.delete(task);
      });
      this.#running.add(task);
      if (!random.chance(options.overlap)) await task;
      await this.#sleep(random.between(options.gapMs[0], options.gapMs[1]));
    }
    await Promise.allSettled([...this.#running]);
  }

  async #sleep(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (!this.#stopped && performance.now() < until) await sleep(Math.min(200, until - performance.now()));
  }

  async #inject(kind: FaultKind, node: number, random: Random): Promise<void> {
    const { cluster, options } = this;
    // A node that an earlier fault left down comes back first.
    if (!cluster.alive(node)) await cluster.startNode(node);
    const start = options.now();
    let detail = "";
    let target: number | undefined = node;
    try {
      switch (kind) {
        case "node-kill": {
          await cluster.killNode(node);
          const down = random.between(300, 3_000);
          await sleep(down);
          const restarting = performance.now();
          const up = await cluster.startNode(node);
          detail = up
            ? `down ${down} ms, then restarted: healthy ${Math.round(performance.now() - restarting)} ms later`
            : "did not come back within 60 s";
          break;
        }
        case "node-pause": {
          const ms = random.between(1_000, 9_000);
          cluster.pauseNode(node);
          await sleep(ms);
          cluster.resumeNode(node);
          detail = `stopped ${ms} ms`;
          break;
        }
        case "redis-restart": {
          target = undefined;
          await cluster.redis.kill();
          const down = random.between(300, 3_000);
          await sleep(down);
          await cluster.redis.start();
          detail = `down ${down} ms, restarted empty`;
          break;
        }
        case "redis-pause": {
          target = undefined;
          const ms = random.between(500, 4_000);
          cluster.redis.pause();
          await sleep(ms);
          cluster.redis.resume();
          detail = `stopped ${ms} ms`;
          break;
        }
        case "pg-pause": {
          target = undefined;
          const ms = random.between(1_000, 6_000);
          for (const p of cluster.pgProxies) p.freeze();
          await sleep(ms);
          for (const p of cluster.pgProxies) p.thaw();
          detail = `frozen ${ms} ms`;
          break;
        }
        case "pg-cut": {
          target = undefined;
          const ms = random.between(500, 4_000);
          for (const p of cluster.pgProxies) p.cut();
          await sleep(ms);
          for (const p of cluster.pgProxies) p.restore();
          detail = `cut ${ms} ms`;
          break;
        }
        case "node-pg-cut": {
          const ms = random.between(1_000, 6_000);
          cluster.pgProxies[node]!.cut();
          await sleep(ms);
          cluster.pgProxies[node]!.restore();
          detail = `cut ${ms} ms`;
          break;
        }
        case "subscriber-drop":
          detail = `${cluster.redisProxies[node]!.dropSubscribers()} subscriber connection(s) closed`;
          break;
        case "subscriber-silence":
          detail = `${cluster.redisProxies[node]!.silenceSubscribers()} subscriber connection(s) silenced`;
          break;
        case "node-redis-freeze": {
          const ms = random.between(1_000, 8_000);
          cluster.redisProxies[node]!.freeze();
          await sleep(ms);
          cluster.redisProxies[node]!.thaw();
          detail = `frozen ${ms} ms`;
          break;
        }
      }
    } catch (error) {
      detail += ` (campaign error: ${(error as Error).message})`;
    }
    const end = options.now();
    options.record({ type: "fault", fault: kind, ...(target === undefined ? {} : { node: target }), start, end, detail });
    options.log(
      `fault ${kind}${target === undefined ? "" : ` node ${target}`} ${(start / 1000).toFixed(1)}s..${(end / 1000).toFixed(1)}s: ${detail}`,
    );
  }
}
