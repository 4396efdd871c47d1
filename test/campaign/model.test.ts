import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { check } from "../../scripts/campaign/checker.js";
import type { IssuedToken, Operation, OpType } from "../../scripts/campaign/history.js";
import { Random } from "../../scripts/campaign/random.js";

/**
 * Random concurrent histories of a model server that is correct by construction: one atomic state,
 * each operation taking effect at one instant between its start and its end (or, for an answer
 * that was lost, possibly after it). The checker must find nothing in them; with a bug put into
 * the model, it must find it.
 */

type Bug = "none" | "logout-forgets-sessions" | "refresh-not-single-use" | "lost-increment" | "stale-node";

interface ModelToken extends IssuedToken {
  raw: true;
}

function simulate(seed: number, bug: Bug, operations = 400): Operation[] {
  const random = new Random(seed);
  const users = new Map<string, { version: number }>();
  const sessions = new Map<string, { user: string; revoked: boolean; version: number }>();
  const refresh = new Map<string, { session: string; used: boolean; revoked: boolean }>();
  const access = new Map<string, ModelToken>();
  // A stale node: it remembers versions and session states as of a snapshot it never refreshes.
  const stale = { users: new Map<string, number>(), revoked: new Set<string>() };
  let nextToken = 0;
  let nextSession = 0;
  let nextUser = 0;
  // Tokens the clients know: delivered once the answer that carried them arrived.
  const known = { access: [] as IssuedToken[], refresh: [] as IssuedToken[], sessions: new Map<string, string[]>() };
  const history: Operation[] = [];

  type Pending = { at: number; run: () => void; order: number };
  const queue: Pending[] = [];
  let order = 0;
  const schedule = (at: number, run: () => void) => {
    // Sorted by time, then by insertion: a binary search for the first later entry.
    const entry = { at, run, order: order++ };
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (queue[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, entry);
  };

  const pair = (user: string, session: string, version: number): IssuedToken[] => {
    const n = ++nextToken;
    const a: ModelToken = { id: `a${n}`, kind: "access", user, session, version, raw: true };
    access.set(a.id, a);
    refresh.set(`r${n}`, { session, used: false, revoked: false });
    return [
      { id: a.id, kind: "access", user, session, version },
      { id: `r${n}`, kind: "refresh", user, session },
    ];
  };
  const newSession = (user: string) => {
    const id = `s${++nextSession}`;
    sessions.set(id, { user, revoked: false, version: users.get(user)!.version });
    return id;
  };
  const verify = (id: string, node: number): boolean => {
    const t = access.get(id)!;
    const s = sessions.get(t.session)!;
    if (bug === "stale-node" && node === 2 && stale.users.has(t.user))
      return !stale.revoked.has(t.session) && stale.users.get(t.user) === t.version;
    return !s.revoked && s.user === t.user && users.get(t.user)!.version === t.version;
  };
  const bump = (user: string) => {
    if (bug === "lost-increment" && random.chance(0.3)) return users.get(user)!.version + 1; // reports a bump it never made
    return ++users.get(user)!.version;
  };

  /** The effect of an operation, at its instant: status, code, tokens, body version. */
  const effect = (type: OpType, input: { token?: IssuedToken; user?: string; target?: string }, node: number) => {
    const t = input.token;
    switch (type) {
      case "register": {
        const user = `u${++nextUser}`;
        users.set(user, { version: 0 });
        return { status: 201, issued: pair(user, newSession(user), 0), version: 0, user };
      }
      case "login": {
        const user = input.user!;
        const version = users.get(user)!.version;
        return { status: 200, issued: pair(user, newSession(user), version), version, user };
      }
      case "refresh": {
        const r = refresh.get(t!.id)!;
        const s = sessions.get(r.session)!;
        if (r.revoked || s.revoked || s.version !== users.get(s.user)!.version) return { status: 401, code: "token_revoked" };
        if (r.used) {
          s.revoked = true;
          return { status: 401, code: "refresh_reused" };
        }
        if (bug !== "refresh-not-single-use") r.used = true;
        return { status: 200, issued: pair(s.user, r.session, users.get(s.user)!.version) };
      }
      default: {
        if (!verify(t!.id, node)) return { status: 401, code: "token_revoked" };
        const user = t!.user;
        if (type === "profile") return { status: 200, version: users.get(user)!.version };
        if (type === "logout_all") {
          if (bug === "logout-forgets-sessions") return { status: 204 };
          const version = bump(user);
          for (const s of sessions.values()) if (s.user === user) s.revoked = true;
          void version;
          return { status: 204 };
        }
        if (type === "logout_session") {
          sessions.get(t!.session)!.revoked = true;
          return { status: 204 };
        }
        if (type === "session_delete") {
          const s = sessions.get(input.target!);
          if (s === undefined || s.revoked || s.user !== user) return { status: 404, code: "not_found" };
          s.revoked = true;
          return { status: 204 };
        }
        if (type === "password_change") {
          const version = bump(user);
          const own = sessions.get(t!.session)!;
          own.version = version;
          for (const [id, s] of sessions) if (s.user === user && id !== t!.session) s.revoked = true;
          for (const r of refresh.values()) if (r.session === t!.session) r.revoked = true;
          return { status: 200, issued: pair(user, t!.session, version) };
        }
        return { status: 200 };
      }
    }
  };

  const client = (id: number, at: number) => {
    if (history.length >= operations) return;
    const pick = random.pick([
      "register",
      "login",
      "login",
      "refresh",
      "refresh",
      "logout_all",
      "logout_session",
      "password_change",
      "session_delete",
      "profile",
      "profile",
      "profile",
      "profile",
    ] as OpType[]);
    const accessTokens = known.access;
    const refreshTokens = known.refresh;
    let type: OpType = pick;
    if (users.size === 0 || (type !== "register" && type !== "login" && accessTokens.length === 0)) type = "register";
    const input: { token?: IssuedToken; user?: string; target?: string } = {};
    if (type === "login") input.user = random.pick([...users.keys()]);
    else if (type === "refresh") {
      // Mostly recent refresh tokens, sometimes an old (probably used) one.
      input.token = random.chance(0.8)
        ? refreshTokens[refreshTokens.length - 1 - random.int(Math.min(4, refreshTokens.length))]!
        : random.pick(refreshTokens);
      if (input.token === undefined) type = "register";
    } else if (type !== "register") {
      input.token = random.chance(0.7)
        ? accessTokens[accessTokens.length - 1 - random.int(Math.min(6, accessTokens.length))]!
        : random.pick(accessTokens);
      if (type === "session_delete") input.target = random.pick(known.sessions.get(input.token.user)!);
    }
    const node = random.int(3);
    const start = at;
    const instant = start + random.int(20);
    const answered = instant + random.int(20);
    const lost = random.chance(0.1);
    // A lost answer: the effect may never happen, or happen at any time, even after the client gave up.
    const happens = !lost || random.chance(0.5);
    const effectAt = lost ? start + random.int(80) : instant;
    const end = lost ? start + random.int(40) : answered;
    const op: Operation = { id: 0, client: id, type, node, start, end, status: null };
    if (input.token) op.token = input.token.id;
    if (input.target) op.target = input.target;
    if (input.user) op.user = input.user;
    let outcome: ReturnType<typeof effect> | undefined;
    if (happens)
      schedule(effectAt, () => {
        outcome = effect(type, input, node);
      });
    else if (lost) op.error = "timeout";
    schedule(end, () => {
      if (!lost) {
        const o = outcome!;
        op.status = o.status;
        if ("code" in o && o.code) op.code = o.code;
        if ("issued" in o && o.issued) op.issued = o.issued;
        if ("version" in o && o.version !== undefined) op.version = o.version;
        if ("user" in o && o.user) op.user = o.user;
        for (const t of op.issued ?? []) {
          known[t.kind].push(t);
          const list = known.sessions.get(t.user) ?? [];
          if (!list.includes(t.session)) list.push(t.session);
          known.sessions.set(t.user, list);
        }
      } else {
        op.status = random.chance(0.5) ? 503 : null;
        if (op.status === null) op.error = "timeout";
      }
      op.id = history.length + 1;
      history.push(op);
      client(id, end + random.int(5));
    });
  };

  // The stale node's snapshot, taken once a little into the run.
  schedule(300, () => {
    for (const [user, u] of users) stale.users.set(user, u.version);
    for (const [id, s] of sessions) if (s.revoked) stale.revoked.add(id);
  });
  for (let c = 0; c < 6; c++) schedule(c, () => client(c, c));
  while (queue.length > 0) queue.shift()!.run();
  // The history is in order of answers; the checker must not rely on any order.
  return random.shuffle(history);
}

describe("checker against a model server", () => {
  test("a correct server's concurrent histories, lost answers included, are clean (200 seeds)", () => {
    let operations = 0;
    let revocations = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const history = simulate(seed, "none");
      const result = check(history);
      assert.deepEqual(
        result.violations.map((v) => v.message),
        [],
        `seed ${seed}`,
      );
      operations += history.length;
      revocations += result.counts.definiteRevocations;
    }
    assert.ok(operations >= 200 * 400);
    assert.ok(revocations > 1000, `only ${revocations} revocations: the model is not exercising the checker`);
  });

  for (const [bug, kind] of [
    ["logout-forgets-sessions", "revoked-token-accepted"],
    ["refresh-not-single-use", "refresh-double-success"],
    ["lost-increment", "version-lost-update"],
    ["stale-node", "revoked-token-accepted"],
  ] as const) {
    test(`a server with a bug (${bug}) is caught`, () => {
      let caught = 0;
      for (let seed = 1; seed <= 30; seed++) if (check(simulate(seed, bug)).violations.some((v) => v.kind === kind)) caught++;
      assert.ok(caught >= 10, `caught in ${caught} of 30 seeds`);
    });
  }

  test("checks a long history in reasonable time", (t) => {
    const history = simulate(7, "none", 30_000);
    const began = performance.now();
    const result = check(history);
    const took = performance.now() - began;
    assert.equal(result.ok, true);
    t.diagnostic(`${history.length} operations checked in ${took.toFixed(0)} ms`);
    assert.ok(took < 20_000, `took ${took} ms`);
  });
});
