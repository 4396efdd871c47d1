import { Agent, request } from "node:http";

/** One request of a load loop: whether it was written out before the signal, and how it ended. */
export interface Outcome {
  sentBeforeSignal: boolean;
  /** Sent on a connection an earlier request used (a server may close it as idle just as it is sent). */
  reusedSocket: boolean;
  status?: number;
  error?: string;
}

/**
 * `connections` keep-alive clients, each sending requests one after another (`pauseMs` apart) on
 * its own connection until `stop()` (or until a connection is refused). A request counts as sent before
 * the signal when its last byte was handed to the kernel before `signal()` was called.
 */
export function keepAliveLoad(url: string, path: string, headers: Record<string, string>, connections = 10, pauseMs = 0) {
  let signalled = false;
  let stopped = false;
  const outcomes: Outcome[] = [];
  const target = new URL(url);
  const loop = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!stopped) {
        const outcome = await new Promise<Outcome>((resolve) => {
          let sentBeforeSignal = false;
          let reusedSocket = false;
          const req = request({ agent, host: target.hostname, port: target.port, path, headers }, (res) => {
            res.resume();
            res.on("end", () => resolve({ sentBeforeSignal, reusedSocket, status: res.statusCode }));
            res.on("error", (error: NodeJS.ErrnoException) =>
              resolve({ sentBeforeSignal, reusedSocket, error: error.code ?? error.message }),
            );
          });
          req.on("finish", () => {
            sentBeforeSignal = !signalled;
            reusedSocket = req.reusedSocket;
          });
          req.on("error", (error: NodeJS.ErrnoException) =>
            resolve({ sentBeforeSignal, reusedSocket, error: error.code ?? error.message }),
          );
          req.end();
        });
        outcomes.push(outcome);
        if (outcome.error === "ECONNREFUSED") break;
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    } finally {
      agent.destroy();
    }
  };
  const running = Promise.all(Array.from({ length: connections }, loop));
  return {
    outcomes,
    /** Marks the moment: call it right before sending the signal. */
    signal: () => (signalled = true),
    /** Stops the loops and waits for the last requests. */
    stop: async () => {
      stopped = true;
      await running;
    },
    done: running,
  };
}
