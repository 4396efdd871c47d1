import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { check, type CheckResult } from "../../scripts/campaign/checker.js";
import { HistoryError, parseHistory, toLine, type IssuedToken, type Operation } from "../../scripts/campaign/history.js";

/** Hand-made histories: every call takes the operation's start and end (ms) and returns what it issued. */
class History {
  readonly ops: Operation[] = [];
  #tokens = new Map<string, IssuedToken>();
  #next = 0;
  #sessions = 0;

  #op(op: Omit<Operation, "id" | "client" | "node"> & { node?: number }): Operation {
    const full: Operation = { id: this.ops.length + 1, client: 0, node: 0, ...op };
    this.ops.push(full);
    for (const t of op.issued ?? []) this.#tokens.set(t.id, t);
    return full;
  }

  #pair(user: string, session: string, version: number, kid?: string): [IssuedToken, IssuedToken] {
    const n = ++this.#next;
    return [
      { id: `a${n}`, kind: "access", user, session, version, ...(kid === undefined ? {} : { kid }) },
      { id: `r${n}`, kind: "refresh", user, session },
    ];
  }

  #token(id: string): IssuedToken {
    const t = this.#tokens.get(id);
    if (t === undefined) throw new Error(`unknown token ${id}`);
    return t;
  }

  register(user: string, start: number, end: number) {
    const session = `s${++this.#sessions}`;
    const issued = this.#pair(user, session, 0);
    this.#op({ type: "register", start, end, status: 201, user, issued, version: 0 });
    return { access: issued[0].id, refresh: issued[1].id, session };
  }

  login(user: string, version: number, start: number, end: number, node = 0) {
    const session = `s${++this.#sessions}`;
    const issued = this.#pair(user, session, version);
    this.#op({ type: "login", start, end, status: 200, user, issued, version, node });
    return { access: issued[0].id, refresh: issued[1].id, session };
  }

  /** A sign-in (login, or login_mfa: the second step) whose access token carries `kid`. */
  signIn(user: string, version: number, start: number, end: number, extra: { kid?: string; type?: "login" | "login_mfa" } = {}) {
    const session = `s${++this.#sessions}`;
    const issued = this.#pair(user, session, version, extra.kid);
    const op = this.#op({ type: extra.type ?? "login", start, end, status: 200, user, issued, version });
    return { access: issued[0].id, refresh: issued[1].id, session, op };
  }

  /** Any other operation, as given (the v2 flows). */
  add(op: Omit<Operation, "id" | "client" | "node"> & { node?: number }): Operation {
    return this.#op(op);
  }

  /** A refresh: 200 issues a new pair at `version`; anything else issues nothing. */
  refresh(token: string, start: number, end: number, result: { status: number | null; code?: string; version?: number }) {
    const t = this.#token(token);
    const issued = result.status === 200 ? this.#pair(t.user, t.session, result.version ?? 0) : undefined;
    this.#op({
      type: "refresh",
      token,
      start,
      end,
      status: result.status,
      ...(result.code ? { code: result.code } : {}),
      ...(issued ? { issued } : {}),
    });
    return issued ? { access: issued[0].id, refresh: issued[1].id, session: t.session } : undefined;
  }

  logoutAll(token: string, start: number, end: number, status: number | null = 204, code?: string) {
    return this.#op({ type: "logout_all", token, start, end, status, ...(code ? { code } : {}) });
  }

  logoutSession(token: string, start: number, end: number, status: number | null = 204) {
    return this.#op({ type: "logout_session", token, start, end, status });
  }

  sessionDelete(token: string, target: string, start: number, end: number, status: number | null = 204) {
    return this.#op({ type: "session_delete", token, target, start, end, status });
  }

  /** A password change: 200 issues the caller's new pair at `version`. */
  passwordChange(token: string, start: number, end: number, status: number | null, version?: number) {
    const t = this.#token(token);
    const issued = status === 200 ? this.#pair(t.user, t.session, version!) : undefined;
    this.#op({ type: "password_change", token, start, end, status, ...(issued ? { issued } : {}) });
    return issued ? { access: issued[0].id, refresh: issued[1].id, session: t.session } : undefined;
  }

  profile(
    token: string,
    start: number,
    end: number,
    status: number | null = 200,
    extra: { version?: number; code?: string; node?: number } = {},
  ) {
    return this.#op({ type: "profile", token, start, end, status, ...extra });
  }
}

function kinds(result: CheckResult): string[] {
  return result.violations.map((v) => v.kind).sort();
}

function clean(result: CheckResult): void {
  assert.deepEqual(
    result.violations.map((v) => v.message),
    [],
  );
  assert.equal(result.ok, true);
}

describe("checker: bad histories are reported", () => {
  test("(a) a token of another session accepted after logout (scope all) returned", () => {
    const h = new History();
    const phone = h.register("u1", 0, 10);
    const laptop = h.login("u1", 0, 20, 30);
    h.logoutAll(phone.access, 40, 50);
    h.profile(laptop.access, 51, 55, 200, { node: 2 });
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["revoked-token-accepted"]);
    assert.deepEqual(result.violations[0]!.ops.slice(0, 2), [4, 3]);
    assert.equal(result.violations[0]!.token, laptop.access);
    assert.equal(result.ok, false);
  });

  test("(a) the caller's own token accepted after logout (scope session)", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutSession(s.access, 20, 30);
    h.profile(s.access, 31, 32);
    assert.deepEqual(kinds(check(h.ops)), ["revoked-token-accepted"]);
  });

  test("(a) a token of a deleted session accepted, even one its refresh issued after the delete started", () => {
    const h = new History();
    const a = h.register("u1", 0, 10);
    const b = h.login("u1", 0, 20, 30);
    h.sessionDelete(a.access, b.session, 40, 60);
    const late = h.refresh(b.refresh, 45, 50, { status: 200, version: 0 })!; // concurrent: may succeed
    h.profile(late.access, 61, 62);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["revoked-token-accepted"]);
    assert.equal(result.violations[0]!.session, b.session);
  });

  test("(a) a 401 refresh_reused revokes the session: its access token accepted afterwards", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.refresh(s.refresh, 20, 30, { status: 200, version: 0 });
    h.refresh(s.refresh, 40, 50, { status: 401, code: "refresh_reused" });
    h.profile(s.access, 51, 52, 200);
    assert.deepEqual(kinds(check(h.ops)), ["revoked-token-accepted"]);
  });

  test("(a) after a password change: another session's token, and the caller's previous token", () => {
    const h = new History();
    const a = h.register("u1", 0, 10);
    const b = h.login("u1", 0, 20, 30);
    h.passwordChange(a.access, 40, 50, 200, 1);
    h.profile(b.access, 60, 61, 200);
    h.profile(a.access, 62, 63, 200);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["revoked-token-accepted", "revoked-token-accepted"]);
    assert.deepEqual(result.violations.map((v) => v.token).sort(), [a.access, b.access].sort());
  });

  test("(a) a refresh token of a revoked session refreshes after the revocation returned", () => {
    const h = new History();
    const a = h.register("u1", 0, 10);
    const b = h.login("u1", 0, 20, 30);
    h.logoutAll(a.access, 40, 50);
    h.refresh(b.refresh, 51, 60, { status: 200, version: 1 });
    const result = check(h.ops);
    assert.ok(kinds(result).includes("revoked-refresh-accepted"));
  });

  test("(a) a bearer accepted by a 404 from DELETE /sessions/:id counts as accepted", () => {
    const h = new History();
    const a = h.register("u1", 0, 10);
    h.logoutSession(a.access, 20, 30);
    h.sessionDelete(a.access, "no-such-session", 40, 50, 404);
    assert.deepEqual(kinds(check(h.ops)), ["revoked-token-accepted"]);
  });

  test("(b) one refresh token refreshed twice, concurrently on two nodes", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.refresh(s.refresh, 20, 30, { status: 200, version: 0 });
    h.refresh(s.refresh, 21, 31, { status: 200, version: 0 });
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["refresh-double-success"]);
    assert.deepEqual(result.violations[0]!.ops, [2, 3]);
  });

  test("(b) a second success long after the first (no grace window)", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.refresh(s.refresh, 20, 30, { status: 200, version: 0 });
    h.refresh(s.refresh, 5_000, 5_010, { status: 200, version: 0 });
    assert.deepEqual(kinds(check(h.ops)), ["refresh-double-success"]);
  });

  test("(d) a version that goes down for a later-issued token", () => {
    const h = new History();
    h.register("u1", 0, 10);
    h.login("u1", 0, 20, 30);
    const late = h.login("u1", 0, 40, 50);
    h.logoutAll(late.access, 60, 70);
    h.login("u1", 1, 80, 90);
    h.login("u1", 0, 100, 110);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["version-regressed"]);
    assert.deepEqual(result.violations[0]!.ops, [6, 5]);
  });

  test("(d) two completed logouts (no overlap), then a login one version short: an increment lost", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const t = h.login("u1", 0, 20, 30);
    h.logoutAll(s.access, 40, 50);
    const u = h.login("u1", 1, 60, 70);
    h.logoutAll(u.access, 80, 90);
    h.login("u1", 1, 100, 110);
    void t;
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["version-lost-update"]);
    assert.match(result.violations[0]!.message, /expected at least 2/);
  });

  test("(d) two overlapping completed logouts still count twice", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const t = h.login("u1", 0, 20, 30);
    h.logoutAll(s.access, 40, 60);
    h.logoutAll(t.access, 41, 61); // overlapping: both completed, both bumped
    h.login("u1", 1, 70, 80);
    assert.deepEqual(kinds(check(h.ops)), ["version-lost-update"]);
  });

  test("(d) a password change that did not bump past what was seen before it", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.passwordChange(s.access, 20, 30, 200, 0);
    assert.deepEqual(kinds(check(h.ops)), ["version-lost-update"]);
  });

  test("(d) a version higher than every bump that could have happened: a phantom increment", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutAll(s.access, 20, 30, 503); // indeterminate: may have bumped
    h.login("u1", 2, 40, 50);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["version-phantom-increment"]);
    assert.match(result.violations[0]!.message, /expected at most 1/);
  });

  test("(d) a refused logout (4xx) bumps nothing", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutAll(s.access, 20, 30, 401, "token_revoked");
    h.profile(s.access, 40, 50, 200, { version: 1 });
    assert.deepEqual(kinds(check(h.ops)), ["version-phantom-increment"]);
  });
});

describe("checker: good histories are clean", () => {
  test("a token accepted while the logout is still under way, refused after", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const other = h.login("u1", 0, 20, 30);
    h.logoutAll(s.access, 40, 60);
    h.profile(other.access, 45, 50, 200, { node: 1 }); // overlaps the logout: either answer is fine
    h.profile(other.access, 55, 65, 200, { node: 2 }); // started before the logout returned
    h.profile(other.access, 61, 62, 401, { code: "token_revoked" });
    clean(check(h.ops));
  });

  test("indeterminate revocations (5xx, no answer) are not definite, yet may have happened", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const t = h.login("u1", 0, 20, 30);
    h.logoutAll(s.access, 40, 50, 503);
    h.profile(s.access, 60, 61, 200, { version: 0 }); // it did not happen (yet)
    h.logoutAll(t.access, 70, 80, null);
    h.profile(t.access, 90, 91, 401, { code: "token_revoked" }); // this one did, after the client gave up
    h.login("u1", 1, 100, 110);
    h.sessionDelete(s.access, t.session, 120, 130, 503);
    h.logoutSession(s.access, 140, 150, null);
    h.profile(s.access, 200, 210, 200, { version: 1 }); // only the first logout took effect... later
    const result = check(h.ops);
    clean(result);
    assert.equal(result.counts.indeterminateRevocations, 4);
    assert.equal(result.counts.definiteRevocations, 0);
  });

  test("an indeterminate bump may land long after the client gave up", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutAll(s.access, 20, 30, null);
    h.login("u1", 0, 40, 50);
    h.login("u1", 1, 5_000, 5_010);
    clean(check(h.ops));
  });

  test("a login concurrent with logout (scope all) may keep its session", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutAll(s.access, 40, 60);
    const during = h.login("u1", 0, 50, 70); // read the old version, committed after: its token dies...
    h.profile(during.access, 80, 81, 401, { code: "token_revoked" });
    const after = h.login("u1", 1, 55, 75); // ...or read the new one and lives
    h.profile(after.access, 82, 83, 200, { version: 1 });
    const concurrentSession = h.login("u1", 1, 42, 65);
    h.profile(concurrentSession.access, 90, 91, 200, { version: 1 });
    clean(check(h.ops));
  });

  test("overlapping logouts and logins: versions between the completed and the possible bumps", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const t = h.login("u1", 0, 20, 30);
    h.logoutAll(s.access, 40, 60);
    h.logoutAll(t.access, 41, 61, 401, "token_revoked"); // lost the race: no bump
    h.login("u1", 0, 39, 45); // concurrent with the logout: old version is fine
    h.login("u1", 1, 50, 55); // or the new one
    const u = h.login("u1", 1, 62, 70);
    h.logoutAll(u.access, 80, 100);
    const v = h.login("u1", 2, 101, 110);
    h.passwordChange(v.access, 120, 130, 200, 3);
    h.login("u1", 3, 140, 150);
    clean(check(h.ops));
  });

  test("a password change: the caller's new pair lives on, a refresh concurrent with it is not assumed revoked", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const other = h.login("u1", 0, 20, 30);
    const next = h.passwordChange(s.access, 40, 50, 200, 1)!;
    h.profile(next.access, 60, 61, 200, { version: 1 });
    const rotated = h.refresh(next.refresh, 70, 80, { status: 200, version: 1 })!;
    h.profile(rotated.access, 90, 91, 200, { version: 1 });
    h.profile(other.access, 92, 93, 401, { code: "token_revoked" });
    h.refresh(other.refresh, 94, 95, { status: 401, code: "token_revoked" });
    clean(check(h.ops));
  });

  test("a refresh race: one 200, one refresh_reused; the winner's pair is then refused", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const won = h.refresh(s.refresh, 20, 30, { status: 200, version: 0 })!;
    h.refresh(s.refresh, 21, 35, { status: 401, code: "refresh_reused" });
    h.profile(won.access, 25, 40, 200); // overlapped the reuse: fine
    h.profile(won.access, 41, 42, 401, { code: "token_revoked" });
    h.refresh(won.refresh, 43, 44, { status: 401, code: "token_revoked" });
    clean(check(h.ops));
  });

  test("a refresh that timed out, then succeeded on retry, is not a double success", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.refresh(s.refresh, 20, 10_020, { status: null });
    h.refresh(s.refresh, 10_030, 10_040, { status: 200, version: 0 });
    h.refresh(s.refresh, 10_050, 10_060, { status: 503 });
    clean(check(h.ops));
  });

  test("users do not cover each other", () => {
    const h = new History();
    const a = h.register("u1", 0, 10);
    const b = h.register("u2", 0, 10);
    h.logoutAll(a.access, 20, 30);
    h.profile(b.access, 40, 41, 200, { version: 0 });
    h.login("u2", 0, 50, 60);
    clean(check(h.ops));
  });

  test("accepted after a node refused it as revoked: an anomaly, not a violation", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.profile(s.access, 20, 30, 401, { code: "token_revoked" });
    h.profile(s.access, 40, 50, 200);
    const result = check(h.ops);
    clean(result);
    assert.deepEqual(
      result.anomalies.map((a) => a.kind),
      ["accepted-after-rejected"],
    );
  });
});

describe("checker: the v2 revoking flows", () => {
  /** u1 signed in twice (sessions a and b), an admin signed in; `revoke` returns the revoking operation. */
  function twoSessions() {
    const h = new History();
    const a = h.register("u1", 0, 10);
    const b = h.login("u1", 0, 20, 30);
    const admin = h.register("admin", 0, 10);
    return { h, a, b, admin };
  }

  const flows: [string, (x: ReturnType<typeof twoSessions>) => void][] = [
    ["a password reset (204)", ({ h }) => void h.add({ type: "password_reset", user: "u1", link: "l1", start: 40, end: 50, status: 204 })],
    [
      "an email change confirmed (200)",
      ({ h }) => void h.add({ type: "email_confirm", user: "u1", link: "l1", start: 40, end: 50, status: 200, version: 1 }),
    ],
    [
      "an admin's logout of the user (204)",
      ({ h, admin }) => void h.add({ type: "admin_logout", token: admin.access, target: "u1", start: 40, end: 50, status: 204 }),
    ],
    [
      "an admin's disable of the user (204)",
      ({ h, admin }) => void h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 50, status: 204 }),
    ],
    [
      "a second factor turned on by the other session (200)",
      ({ h, a }) => void h.add({ type: "mfa_enable", token: a.access, start: 40, end: 50, status: 200 }),
    ],
    [
      "a second factor turned off by the other session (204)",
      ({ h, a }) => void h.add({ type: "mfa_disable", token: a.access, start: 40, end: 50, status: 204 }),
    ],
    [
      "the account deleted from the other session (204)",
      ({ h, a }) => void h.add({ type: "account_delete", token: a.access, start: 40, end: 50, status: 204 }),
    ],
  ];
  for (const [name, revoke] of flows)
    test(`(a) ${name}: a token it covered accepted after it returned`, () => {
      const x = twoSessions();
      revoke(x);
      x.h.profile(x.b.access, 51, 52, 200, { node: 1 });
      const result = check(x.h.ops);
      assert.deepEqual(kinds(result), ["revoked-token-accepted"]);
      assert.equal(result.violations[0]!.token, x.b.access);
      // The same read while the revocation was under way is no violation.
      const y = twoSessions();
      revoke(y);
      y.h.profile(y.b.access, 45, 52, 200);
      clean(check(y.h.ops));
    });

  test("a second factor turned on or off: the caller's own session continues", () => {
    const { h, a } = twoSessions();
    h.add({ type: "mfa_enable", token: a.access, start: 40, end: 50, status: 200 });
    h.add({ type: "mfa_disable", token: a.access, start: 60, end: 70, status: 204 });
    h.profile(a.access, 71, 72);
    clean(check(h.ops));
  });

  test("a deleted account's session is dead even for a token its refresh issued during the deletion", () => {
    const { h, a, b } = twoSessions();
    h.add({ type: "account_delete", token: a.access, start: 40, end: 60, status: 204 });
    const late = h.refresh(b.refresh, 45, 50, { status: 200, version: 0 })!;
    h.profile(late.access, 61, 62);
    assert.deepEqual(kinds(check(h.ops)), ["revoked-token-accepted"]);
  });

  test("a sign-in after the account's deletion returned", () => {
    const { h, a } = twoSessions();
    h.add({ type: "account_delete", token: a.access, start: 40, end: 50, status: 204 });
    h.signIn("u1", 0, 60, 70);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["deleted-user-accepted"]);
    assert.deepEqual(result.violations[0]!.ops, [5, 4]);
  });

  test("a disabled user: a token of a sign-in concurrent with the disable, accepted after it returned", () => {
    const { h, admin } = twoSessions();
    h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 60, status: 204 });
    const racing = h.signIn("u1", 1, 45, 55); // not covered by the version bump: issued concurrently
    h.profile(racing.access, 61, 62);
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["disabled-user-accepted"]);
    assert.equal(result.violations[0]!.token, racing.access);
  });

  test("a disabled user: a sign-in (login, or its second step) after the disable returned", () => {
    for (const type of ["login", "login_mfa"] as const) {
      const { h, admin } = twoSessions();
      h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 50, status: 204 });
      h.signIn("u1", 1, 60, 70, { type });
      assert.deepEqual(kinds(check(h.ops)), ["disabled-user-accepted"], type);
    }
  });

  test("a disabled user enabled again (or maybe enabled: an enable without an answer) may sign in", () => {
    for (const status of [204, 503, null]) {
      const { h, admin } = twoSessions();
      h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 50, status: 204 });
      h.add({ type: "admin_enable", token: admin.access, target: "u1", start: 55, end: 58, status });
      const s = h.signIn("u1", 1, 60, 70);
      h.profile(s.access, 71, 72);
      clean(check(h.ops));
    }
    // An enable refused (4xx) enables nothing.
    const { h, admin } = twoSessions();
    h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 50, status: 204 });
    h.add({ type: "admin_enable", token: admin.access, target: "u1", start: 55, end: 58, status: 401, code: "token_revoked" });
    h.signIn("u1", 1, 60, 70);
    assert.deepEqual(kinds(check(h.ops)), ["disabled-user-accepted"]);
  });

  test("an enable that ended before the disable started does not undo it", () => {
    const { h, admin } = twoSessions();
    h.add({ type: "admin_enable", token: admin.access, target: "u1", start: 32, end: 35, status: 204 });
    h.add({ type: "admin_disable", token: admin.access, target: "u1", start: 40, end: 50, status: 204 });
    h.signIn("u1", 1, 60, 70);
    assert.deepEqual(kinds(check(h.ops)), ["disabled-user-accepted"]);
  });

  test("a revoked signing key: its token accepted after `tokenver keys revoke` exited", () => {
    const h = new History();
    const old = h.signIn("u1", 0, 0, 10, { kid: "k1" });
    const next = h.signIn("u1", 0, 20, 30, { kid: "k2" });
    h.add({ type: "key_revoke", node: -1, target: "k1", start: 40, end: 50, status: 204 });
    h.profile(old.access, 45, 49); // while the command ran: allowed
    h.profile(next.access, 51, 52); // another key: allowed
    h.profile(old.access, 51, 52, 200, { node: 2 });
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["revoked-key-accepted"]);
    assert.deepEqual(result.violations[0]!.ops.slice(0, 2), [6, 3]);
    // A refresh token is not signed: refreshing after the revocation is right.
    const g = new History();
    const s = g.signIn("u1", 0, 0, 10, { kid: "k1" });
    g.add({ type: "key_revoke", node: -1, target: "k1", start: 40, end: 50, status: 204 });
    g.refresh(s.refresh, 60, 70, { status: 200, version: 0 });
    // A command that failed (maybe committed) is no definite revocation.
    g.add({ type: "key_revoke", node: -1, target: "k2", start: 80, end: 90, status: null, error: "exit 1" });
    const k2 = g.signIn("u1", 0, 0, 10, { kid: "k2" });
    g.profile(k2.access, 95, 96);
    clean(check(g.ops));
  });

  test("a token signed with a key revoked before the request started: an anomaly", () => {
    const h = new History();
    h.add({ type: "key_revoke", node: -1, target: "k1", start: 40, end: 50, status: 204 });
    h.signIn("u1", 0, 60, 70, { kid: "k1" });
    const result = check(h.ops);
    clean(result);
    assert.deepEqual(
      result.anomalies.map((a) => a.kind),
      ["signed-with-revoked-key"],
    );
  });

  test("a link that works twice (a reset, on two nodes at once; an email change, again later)", () => {
    const h = new History();
    h.register("u1", 0, 10);
    const forgot = h.add({ type: "password_forgot", user: "u1", start: 20, end: 30, status: 202 });
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 40, end: 50, status: 204, node: 0 });
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 41, end: 51, status: 204, node: 1 });
    const result = check(h.ops);
    assert.ok(kinds(result).includes("link-reused"));
    assert.deepEqual(result.violations.find((v) => v.kind === "link-reused")!.ops, [3, 4]);

    const g = new History();
    const s = g.register("u1", 0, 10);
    const asked = g.add({ type: "email_change", token: s.access, start: 20, end: 30, status: 202 });
    g.add({ type: "email_confirm", user: "u1", link: "l2", linkOp: asked.id, start: 40, end: 50, status: 200, version: 1 });
    g.add({ type: "email_confirm", user: "u1", link: "l2", linkOp: asked.id, start: 900, end: 910, status: 200, version: 1 });
    assert.ok(kinds(check(g.ops)).includes("link-reused"));
  });

  test("a link used once, its replay refused: clean", () => {
    const h = new History();
    h.register("u1", 0, 10);
    const forgot = h.add({ type: "password_forgot", user: "u1", start: 20, end: 30, status: 202 });
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 40, end: 50, status: 204 });
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 41, end: 51, status: 400, code: "link_invalid" });
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 60, end: 70, status: null, error: "timeout" });
    clean(check(h.ops));
  });

  test("a link that works after a version change that completed after it was sent", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const forgot = h.add({ type: "password_forgot", user: "u1", start: 20, end: 30, status: 202 });
    h.logoutAll(s.access, 40, 50);
    h.add({ type: "password_reset", user: "u1", link: "l1", linkOp: forgot.id, start: 60, end: 70, status: 204 });
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["stale-link-accepted"]);
    assert.deepEqual(result.violations[0]!.ops, [4, 3, 2]);
    // A logout concurrent with the request that sent the link may have come first: no violation.
    const g = new History();
    const t = g.register("u1", 0, 10);
    const sent = g.add({ type: "password_forgot", user: "u1", start: 20, end: 45, status: 202 });
    g.logoutAll(t.access, 40, 50);
    g.add({ type: "password_reset", user: "u1", link: "l1", linkOp: sent.id, start: 60, end: 70, status: 204 });
    clean(check(g.ops));
  });

  test("(d) a reset, a confirmed email change and an admin's logout or disable each bump the version", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    const admin = h.register("admin", 0, 10);
    h.add({ type: "password_reset", user: "u1", link: "l1", start: 20, end: 30, status: 204 });
    h.add({ type: "email_confirm", user: "u1", link: "l2", start: 40, end: 50, status: 200, version: 2 });
    h.add({ type: "admin_logout", token: admin.access, target: "u1", start: 60, end: 70, status: 204 });
    h.login("u1", 2, 80, 90); // three bumps since 0: expected 3
    void s;
    const result = check(h.ops);
    assert.deepEqual(kinds(result), ["version-lost-update"]);
    assert.match(result.violations[0]!.message, /expected at least 3/);
  });
});

describe("history lines", () => {
  test("round trip through JSON lines, faults kept apart", () => {
    const h = new History();
    const s = h.register("u1", 0, 10);
    h.logoutAll(s.access, 20, 30);
    h.profile(s.access, 31, 32);
    const text = [toLine({ type: "fault", fault: "kill", node: 1, start: 15, end: 25 }), ...h.ops.map(toLine), ""].join("\n");
    const parsed = parseHistory(text);
    assert.equal(parsed.faults.length, 1);
    assert.deepEqual(parsed.operations, h.ops);
    assert.deepEqual(kinds(check(parsed.operations)), ["revoked-token-accepted"]);
  });

  test("malformed histories are refused, not checked", () => {
    assert.throws(() => parseHistory("{"), HistoryError);
    assert.throws(
      () => parseHistory(toLine({ id: 1, client: 0, type: "profile", node: 0, start: 0, end: 1, token: "a9", status: 200 })),
      /no operation issued/,
    );
    assert.throws(() => parseHistory(toLine({ id: 1, client: 0, type: "login", node: 0, start: 5, end: 1, status: 200 })), /end >= start/);
    assert.throws(
      () => parseHistory(toLine({ id: 1, client: 0, type: "dance" as never, node: 0, start: 0, end: 1, status: 200 })),
      /unknown type/,
    );
    assert.throws(
      () => parseHistory(toLine({ id: 1, client: 0, type: "key_revoke", node: -1, start: 0, end: 1, status: 204 })),
      /names its target/,
    );
    assert.throws(
      () => parseHistory(toLine({ id: 1, client: 0, type: "password_reset", node: 0, start: 0, end: 1, status: 204, user: "u1" })),
      /names its link and its user/,
    );
  });
});
