import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { linkToken, mailTo, RESET, VERIFY } from "../support/recovery-mail.js";
import { TEST_SECRET, uniqueEmail } from "../support/server.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";

// The revoking flows of account recovery (reset, email change, deletion) hold on every node once
// they answer, like logout: two real server processes over one PostgreSQL and one Redis, each
// answering from its memory, warmed with the soon-revoked tokens first. The links come by SMTP.
const BASE = "http://127.0.0.1:3998";

describe("account recovery on two nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let smtp: TestSmtp;
  let nodes: Node[];

  before(async () => {
    database = await createTestDatabase("postgres");
    smtp = await startSmtp();
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REDIS_ENTRY_TTL: "2",
      TOKENVER_SMTP_URL: smtp.url,
      TOKENVER_PUBLIC_URL: BASE,
    };
    const first = await startNode(env);
    nodes = [first, await startNode(env)];
    await sleep(2200);
  });

  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await smtp?.close();
    await database?.drop();
  });

  async function warmed() {
    const user = await nodes[0]!.api.register();
    const other = await nodes[1]!.api.login(user.email, user.password);
    for (let i = 0; i < 2; i++) {
      for (const n of nodes) {
        assert.equal((await n.api.get("/profile", user.access)).status, 200);
        assert.equal((await n.api.get("/profile", other.access)).status, 200);
      }
    }
    return { user, tokens: [user.access, other.access] };
  }

  async function refusedEverywhere(tokens: string[], what: string) {
    const checks = await Promise.all(nodes.flatMap((n) => tokens.map((t) => n.api.get("/profile", t))));
    for (const r of checks) {
      assert.equal(r.status, 401, `a revoked token was accepted after ${what}`);
      assert.ok(["token_revoked", "token_invalid"].includes(r.body.code), r.text);
    }
  }

  test("a reset on one node: every token of the user is refused on both at once", async () => {
    for (let round = 0; round < 3; round++) {
      const { user, tokens } = await warmed();
      const actor = nodes[round % 2]!;
      assert.equal((await nodes[(round + 1) % 2]!.api.post("/password/forgot", { email: user.email })).status, 202);
      const token = linkToken(await mailTo(smtp, user.email, RESET, 1, 20_000), BASE, "/account/reset");
      const response = await actor.api.post("/password/reset", { token, new_password: `new passphrase of round ${round}` });
      assert.equal(response.status, 204, response.text);
      await refusedEverywhere(tokens, "a reset");
    }
  });

  test("a confirmed email change on one node: every token is refused on both at once", async () => {
    const { user, tokens } = await warmed();
    const newEmail = uniqueEmail();
    const requested = await nodes[0]!.api.post("/email", { new_email: newEmail, password: user.password }, user.access);
    assert.equal(requested.status, 202, requested.text);
    const token = linkToken(await mailTo(smtp, newEmail, VERIFY, 1, 20_000), BASE, "/account/verify");
    const response = await nodes[1]!.api.post("/email/verify", { token });
    assert.equal(response.status, 200, response.text);
    await refusedEverywhere(tokens, "an email change");
  });

  test("a deletion on one node: every token is refused on both at once", async () => {
    const { user, tokens } = await warmed();
    const response = await nodes[1]!.api.request("DELETE", "/profile", { token: user.access, body: { password: user.password } });
    assert.equal(response.status, 204, response.text);
    await refusedEverywhere(tokens, "a deletion");
  });
});
