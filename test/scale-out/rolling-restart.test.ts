import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { keepAliveLoad } from "../support/load.js";
import { startNode, type Node } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";

/**
 * The smallest load balancer: each request goes to the next node on a fresh connection; a node that
 * refuses the connection (it stopped listening), or resets it before a byte of the answer (a
 * connection the kernel had queued when the listener closed), is skipped for the next one. That
 * is what a balancer's retry does; any other failure reaches the client as a 502.
 */
async function startBalancer(upstreams: string[]) {
  const retries: string[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const attempt = (tries: number, index: number) => {
      const target = new URL(upstreams[index % upstreams.length]!);
      const forward = request(
        { host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers, agent: false },
        (answer) => {
          outgoing.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on("error", (error: NodeJS.ErrnoException) => {
        const refused = error.code === "ECONNREFUSED" || error.code === "ECONNRESET";
        if (refused && !outgoing.headersSent && tries < 20) {
          retries.push(error.code!);
          setTimeout(() => attempt(tries + 1, index + 1), tries < upstreams.length ? 0 : 50);
        } else if (!outgoing.headersSent) outgoing.writeHead(502).end(error.code);
        else outgoing.destroy();
      });
      forward.end();
    };
    attempt(0, next++);
  });
  let next = 0;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    upstreams,
    retries,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("rolling restart of two nodes behind a balancer (PostgreSQL + Redis)", () => {
  let database: TestDatabase;
  const nodes: Node[] = [];
  let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined;

  after(async () => {
    balancer?.close();
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await database?.drop();
  });

  test("each node drained and restarted in turn: clients see no error, each node exits 0", async () => {
    database = await createTestDatabase("postgres");
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_SHUTDOWN_TIMEOUT: "10",
    };
    // The replacements start first (as with a surge in a rolling update): a start-up is slow on a
    // busy machine, and what is under test is each old node's drain under load.
    for (let i = 0; i < 4; i++) nodes.push(await startNode(env));
    balancer = await startBalancer(nodes.slice(0, 2).map((n) => n.url));
    const { access } = await nodes[0]!.api.register();
    const load = keepAliveLoad(balancer.url, "/profile", { authorization: `Bearer ${access}` }, 6, 5);

    await sleep(1000);
    for (let i = 0; i < 2; i++) {
      const old = nodes[i]!;
      const exited = new Promise<number | null>((resolve) => old.process.once("exit", (code) => resolve(code)));
      old.process.kill("SIGTERM");
      // Traffic for the stopped node is refused and goes to the other until the new one is in.
      await sleep(500);
      balancer.upstreams[i] = nodes[i + 2]!.url;
      assert.equal(await exited, 0, old.output());
      await sleep(1000);
    }
    await load.stop();

    const failures = load.outcomes.filter((o) => o.status !== 200);
    assert.deepEqual(failures, [], "a client saw an error");
    assert.ok(load.outcomes.length > 50, `only ${load.outcomes.length} requests ran`);
    // The restarts were seen: connections to a stopped node were refused and went to the other.
    assert.ok(balancer.retries.includes("ECONNREFUSED"), `retries: ${balancer.retries.join(", ")}`);
  });
});
