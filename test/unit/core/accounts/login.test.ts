// src/core/accounts/login.ts, issueSignIn's commit (store/durability.ts) over the real core and a
// real SQLite store in memory: a sign-in that used up a second factor's code is committed with
// SQLite's FULL synchronous setting, so a power loss cannot bring the used code back (a replay); a
// password sign-in's new session is committed without an fsync (NORMAL: its loss fails closed, and
// an fsync per login on the main thread is what the login storm of docs/benchmark.md measured).
// What is seen: the connection's setting at the moment the session row is inserted.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs } from "kysely";
import { login } from "../../../../src/core/accounts/login.js";
import type { Core } from "../../../../src/core/context.js";
import { loginMfa } from "../../../../src/core/mfa/login-mfa.js";
import { setPassword } from "../../../support/account-core.js";
import { totpAt } from "../../../support/totp.js";
import { enrolled, mfaCore, mfaToken, PASSWORD, type MfaCore } from "../mfa/enrolled-core.js";

let world: MfaCore;
beforeEach(async () => {
  world = await mfaCore();
});
afterEach(() => world.close());

/** The core, recording the connection's `synchronous` setting each time a session row is inserted. */
function probed(): { core: Core; levels: number[] } {
  const levels: number[] = [];
  const sqlite = world.store.sqlite!;
  const probe: KyselyPlugin = {
    transformQuery(args: PluginTransformQueryArgs) {
      const node = args.node;
      if (node.kind === "InsertQueryNode" && node.into?.table.identifier.name === "sessions") {
        levels.push(Number(sqlite.pragma("synchronous", { simple: true })));
      }
      return node;
    },
    transformResult: async (args: PluginTransformResultArgs) => args.result,
  };
  return { core: { ...world.mfaCore, db: world.mfaCore.db.withPlugin(probe) }, levels };
}

test("the store runs with synchronous FULL (2) between sign-ins", () => {
  assert.equal(Number(world.store.sqlite!.pragma("synchronous", { simple: true })), 2);
});

test("a password sign-in's session is committed without an fsync (NORMAL, 1), and FULL is back after", async () => {
  const userId = await world.addUser();
  const email = `${userId}@example.test`;
  await setPassword(world, userId, PASSWORD);
  const { core, levels } = probed();
  const signIn = await login(core, { email, password: PASSWORD }, {});
  assert.equal((await world.verify(signIn.accessToken)).userId, userId);
  assert.deepEqual(levels, [1]);
  assert.equal(Number(world.store.sqlite!.pragma("synchronous", { simple: true })), 2);
});

test("a sign-in that used up a second factor's code is committed with FULL (2): the used code cannot come back after a power loss", async () => {
  const who = await enrolled(world);
  const token = await mfaToken(world, who.userId);
  const { core, levels } = probed();
  const signIn = await loginMfa(core, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) });
  assert.equal((await world.verify(signIn.accessToken)).userId, who.userId);
  assert.deepEqual(levels, [2]);
});

test("login.succeeded of a second-factor sign-in records its amr (sign-in.test.ts: a password sign-in records none)", async () => {
  const who = await enrolled(world);
  const signIn = await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code: totpAt(who.secret, world.now(), 1) });
  const principal = await world.verify(signIn.accessToken);
  const [event, ...more] = await world.events("login.succeeded");
  assert.deepEqual(more, []);
  assert.equal(event!.session_id, principal.sessionId);
  assert.deepEqual(JSON.parse(event!.detail), { amr: "pwd otp mfa" });
});
