// Concurrent administration on PostgreSQL: rounds of promotions, demotions, disables, enables,
// server-side logouts, session revocations and deletions fired at once beside the owners' own
// logins, refreshes, password changes and logouts (two of them crossing: each session ending
// itself and the other), over two service instances (two pools) on one database. Every flow takes
// its row locks in one order (docs/architecture.md, "Lock order"), so none may end in a deadlock,
// serialization failure or lock timeout (a 503); and after each round at least one enabled admin
// remains, and no disabled or deleted account keeps a live session or token.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { AuthError, type ErrorCode } from "../src/core/errors.js";
import type { Principal, TokenPair } from "../src/core/types.js";
import { createAuth, type Auth } from "../src/create-auth.js";
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";
import { describeError, seededRandom, stressSeed } from "./support/stress.js";

const PASSWORD = "a long and unguessable passphrase";
const ROUNDS = 8;
const OPERATIONS_PER_ROUND = 60;
const CORE_USERS = 8;
const FIRST_ADMINS = 4;
/** Fresh non-admin accounts per round, the only ones deleted (the core users stay for the next rounds). */
const DOOMED_PER_ROUND = 4;
/** The seed of the operation mix, in every assertion message: set it to draw the same mix again (the interleaving differs). */
const SEED = stressSeed();

/** One sign-in we hold for a user: its tokens as last issued, and the principal when we verified it before the round. */
interface Held {
  pair: Pick<TokenPair, "accessToken" | "refreshToken">;
  principal: Principal | undefined;
  /** The round before which it was issued (the setup's tokens: 0). */
  round: number;
}

interface Account {
  name: string;
  id: string;
  email: string;
  doomed: boolean;
  held: Held[];
}

type Kind =
  | "promote"
  | "demote"
  | "disable"
  | "enable"
  | "logoutUser"
  | "revokeUserSession"
  | "deleteUser"
  | "changePassword"
  | "logout"
  | "logoutCrossed"
  | "login"
  | "refresh"
  | "verify";

/** How often each kind is drawn: the admin writes that take the admins' lock most. */
const WEIGHTS: Record<Kind, number> = {
  promote: 3,
  demote: 7,
  disable: 5,
  enable: 4,
  logoutUser: 3,
  revokeUserSession: 3,
  deleteUser: 3,
  changePassword: 3,
  logout: 2,
  logoutCrossed: 3,
  login: 4,
  refresh: 4,
  verify: 2,
};

interface Operation {
  kind: Kind;
  label: string;
  target: Account;
  /** The refusals the race may rightly give; anything else (a 503 above all) fails the round. */
  allowed: ReadonlySet<ErrorCode>;
  run(): Promise<unknown>;
  /** A new pair it issued, held for later rounds and for the token checks. */
  issued?(value: unknown): void;
}

describe("concurrent administration (postgres)", { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" }, () => {
  let database: TestDatabase;
  let nodes: Array<{ name: string; auth: Auth }>;
  let sql: pg.Client;
  const random = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;

  before(async () => {
    database = await createTestDatabase("postgres");
    // Many logins from one address, and a password hash per login: no throttle, no full hashing queue.
    const options = {
      databaseUrl: database.url,
      secret: TEST_SECRET,
      sendMail: async () => {},
      hashQueue: 1_000,
      rateLimit: { registrations: 1_000_000, addressLogins: 1_000_000, accountFailures: 1_000_000, addressFailures: 1_000_000 },
    };
    // Two instances, each with its own pool, as two nodes would be. Without Redis and without a
    // node cache (the PostgreSQL default) each one reads revocations from the database: exact.
    nodes = [
      { name: "A", auth: await createAuth(options) },
      { name: "B", auth: await createAuth(options) },
    ];
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
  });
  after(async () => {
    for (const node of nodes ?? []) await node.auth.close();
    await sql?.end();
    await database?.drop();
  });

  test(
    `${ROUNDS} rounds of ${OPERATIONS_PER_ROUND} racing account operations: never a 503, and the invariants hold after each`,
    { timeout: 120_000 },
    async (t) => {
      const setup = nodes[0]!.auth;
      let registered = 0;
      const register = async (name: string, doomed: boolean): Promise<Account> => {
        const email = `stress${++registered}-${SEED}@example.com`;
        const signedUp = await setup.register({ email, password: PASSWORD });
        const held = [{ pair: signedUp, principal: undefined, round: 0 }];
        return { name, id: signedUp.user.id, email, doomed, held };
      };

      const core: Account[] = [];
      for (let i = 0; i < CORE_USERS; i++) core.push(await register(`core${i}`, false));
      // A system action (no admin principal), as an operator's seed script would do it.
      for (const account of core.slice(0, FIRST_ADMINS)) await setup.setRole(account.id, "admin");
      const doomed: Account[] = [];
      const outcomes = new Map<string, number>();
      const failures: string[] = [];

      for (let round = 1; round <= ROUNDS; round++) {
        const state = await usersById();
        const fresh: Account[] = [];
        for (let i = 0; i < DOOMED_PER_ROUND; i++) fresh.push(await register(`doomed${doomed.length + i}`, true));
        doomed.push(...fresh);
        const present = [...core, ...doomed.filter((d) => state.has(d.id) || fresh.includes(d))];
        // A sign-in of each enabled account, verified now: the principals the round's actions present.
        await Promise.all(
          present
            .filter((account) => state.get(account.id)?.disabled !== true)
            .map(async (account) => {
              const node = pick(nodes).auth;
              const pair = await node.login({ email: account.email, password: PASSWORD });
              const principal = await node.verify(`Bearer ${pair.accessToken}`);
              account.held.push({ pair, principal, round: round - 1 });
            }),
        );
        const admins = core.filter((c) => state.get(c.id)?.role === "admin" && !state.get(c.id)!.disabled);
        const liveDoomed = present.filter((account) => account.doomed);

        const operations = Array.from({ length: OPERATIONS_PER_ROUND }, () => draw(round, admins, liveDoomed));
        const results = await Promise.allSettled(operations.map((operation) => operation.run()));

        const completed: Operation[] = [];
        results.forEach((result, i) => {
          const operation = operations[i]!;
          if (result.status === "fulfilled") {
            operation.issued?.(result.value);
            completed.push(operation);
            count(`${operation.kind}: ok`);
            return;
          }
          const error: unknown = result.reason;
          if (error instanceof AuthError && operation.allowed.has(error.code)) {
            count(`${operation.kind}: ${error.code}`);
            return;
          }
          failures.push(`round ${round}, ${operation.label}: ${describeError(error)}`);
        });
        assert.deepEqual(
          failures,
          [],
          `seed ${SEED}: unexpected refusals (a 503 is a deadlock, a serialization failure or a lock timeout)`,
        );
        await checkInvariants(round, completed);
      }
      t.diagnostic(`seed ${SEED}; outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
      // Not a mix where every write was refused up front: these admin writes went through at least once.
      for (const kind of ["demote", "disable", "deleteUser"] as const) {
        assert.ok((outcomes.get(`${kind}: ok`) ?? 0) > 0, `seed ${SEED}: no ${kind} went through`);
      }

      function count(outcome: string): void {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }

      /** One random operation of the round, on a random node, against the small set of users. */
      function draw(round: number, admins: Account[], liveDoomed: Account[]): Operation {
        const node = pick(nodes);
        const kind = drawKind(liveDoomed.length > 0);
        const anyone = [...core, ...liveDoomed];
        // Admin writes mostly on the core users (they collide on the admins' rows), some on the doomed ones.
        const target = kind === "deleteUser" ? pick(liveDoomed) : kind === "promote" || kind === "demote" ? pick(core) : pick(anyone);
        const allowed = new Set<ErrorCode>();
        // A deleted account: unknown to the admin actions, its tokens and password no longer work.
        if (target.doomed) for (const code of ["not_found", "token_invalid", "invalid_credentials"] as const) allowed.add(code);
        let options: { admin?: Principal } = {};
        let by = "system";
        if (ADMIN_KINDS.has(kind) && chance(0.6)) {
          // Mostly an admin of the round's start (it may have lost the role, its account or its
          // sign-in since: lockAdminsFor checks again in the transaction), sometimes anybody.
          const actor = chance(0.8) && admins.length > 0 ? pick(admins) : pick(core);
          const principal = pick(actor.held.filter((h) => h.principal !== undefined).slice(-2)).principal!;
          options = { admin: principal };
          by = actor.name;
          for (const code of ["forbidden", "token_revoked"] as const) allowed.add(code);
        }
        const label = `${kind} ${target.name} by ${by} on ${node.name}`;
        const auth = node.auth;
        const latest = () => pick(target.held.slice(-3));
        const signedIn = () => pick(target.held.filter((h) => h.principal !== undefined).slice(-2)).principal!;
        const hold = (round: number) => (value: unknown) => target.held.push({ pair: value as TokenPair, principal: undefined, round });
        switch (kind) {
          case "promote":
            return { kind, label, target, allowed, run: () => auth.setRole(target.id, "admin", options) };
          case "demote":
            // The last enabled admin is refused.
            allowed.add("forbidden");
            return { kind, label, target, allowed, run: () => auth.setRole(target.id, "user", options) };
          case "disable":
            allowed.add("forbidden");
            return { kind, label, target, allowed, run: () => auth.disableUser(target.id, options) };
          case "enable":
            return { kind, label, target, allowed, run: () => auth.enableUser(target.id, options) };
          case "logoutUser":
            return { kind, label, target, allowed, run: () => auth.logoutUser(target.id, options) };
          case "revokeUserSession": {
            // Already revoked (by another operation of the round, or earlier): not found.
            allowed.add("not_found");
            const sessionId = signedIn().sessionId;
            return { kind, label, target, allowed, run: () => auth.revokeUserSession(target.id, sessionId, options) };
          }
          case "deleteUser":
            return { kind, label, target, allowed, run: () => auth.deleteUser(target.id, options) };
          case "changePassword": {
            // The same password again: every later login still knows it, and the change still
            // bumps the version, re-keys the session and revokes the others under the user's lock.
            allowed.add("token_revoked");
            const principal = signedIn();
            const input = { currentPassword: PASSWORD, newPassword: PASSWORD };
            return { kind, label, target, allowed, run: () => auth.changePassword(principal, input), issued: hold(round) };
          }
          case "logout": {
            const principal = signedIn();
            return { kind, label, target, allowed, run: () => auth.logout(principal, { scope: "all" }) };
          }
          case "logoutCrossed": {
            // Two sign-ins of the account each end themselves and the other (scope session, the
            // other's refresh token), at once, on both nodes: the same two sessions in opposite orders.
            const [first, second] = target.held.filter((h) => h.principal !== undefined).slice(-2);
            const run = async () => {
              if (second === undefined) return auth.logout(first!.principal!, { scope: "session" });
              const [a, b] = nodes;
              await Promise.all([
                a!.auth.logout(first!.principal!, { scope: "session", refreshToken: second.pair.refreshToken }),
                b!.auth.logout(second.principal!, { scope: "session", refreshToken: first!.pair.refreshToken }),
              ]);
            };
            return { kind, label, target, allowed, run };
          }
          case "login":
            allowed.add("account_disabled");
            // A password change committed during the sign-in (a new hash, even of the same password):
            // the sign-in no longer holds for the account as it is now.
            allowed.add("invalid_credentials");
            return {
              kind,
              label,
              target,
              allowed,
              run: () => auth.login({ email: target.email, password: PASSWORD }),
              issued: hold(round),
            };
          case "refresh": {
            for (const code of ["token_revoked", "refresh_reused", "account_disabled"] as const) allowed.add(code);
            const refreshToken = latest().pair.refreshToken;
            return { kind, label, target, allowed, run: () => auth.refresh(refreshToken), issued: hold(round) };
          }
          case "verify": {
            allowed.add("token_revoked");
            const accessToken = latest().pair.accessToken;
            return { kind, label, target, allowed, run: () => auth.verify(`Bearer ${accessToken}`) };
          }
        }
      }

      function drawKind(canDelete: boolean): Kind {
        const kinds = (Object.keys(WEIGHTS) as Kind[]).filter((k) => canDelete || k !== "deleteUser");
        let roll = random() * kinds.reduce((sum, k) => sum + WEIGHTS[k], 0);
        for (const kind of kinds) {
          roll -= WEIGHTS[kind];
          if (roll < 0) return kind;
        }
        return kinds[kinds.length - 1]!;
      }

      async function usersById(): Promise<Map<string, { role: string; disabled: boolean }>> {
        const { rows } = await sql.query<{ id: string; role: string; disabled: boolean }>(
          "SELECT id, role, disabled_at IS NOT NULL AS disabled FROM users",
        );
        return new Map(rows.map((r) => [r.id, { role: r.role, disabled: r.disabled }]));
      }

      async function checkInvariants(round: number, completed: Operation[]): Promise<void> {
        const where = `seed ${SEED}, after round ${round}`;
        const state = await usersById();
        const enabledAdmins = [...state.values()].filter((u) => u.role === "admin" && !u.disabled);
        assert.ok(enabledAdmins.length >= 1, `${where}: no enabled admin left`);

        // A disable revokes every session of the account in its transaction; a login waits for it
        // (or is refused), so no session of a disabled account is left unrevoked.
        const { rows: liveOfDisabled } = await sql.query(
          `SELECT s.id, s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE u.disabled_at IS NOT NULL AND s.revoked_at IS NULL`,
        );
        assert.deepEqual(liveOfDisabled, [], `${where}: sessions of disabled users left live`);

        // Every token of a disabled or deleted account was issued before its disable or deletion.
        const ended = [...core, ...doomed].filter((account) => state.get(account.id)?.disabled !== false);
        // And every token issued before this round, of an account that a revocation of all its
        // sessions (disable, server-side logout, deletion, its own logout) reached in it.
        const revokedInRound = new Set(
          completed.filter((o) => ["disable", "logoutUser", "deleteUser", "logout"].includes(o.kind)).map((o) => o.target),
        );
        const mustBeRefused = [
          ...ended.flatMap((account) => account.held.map((held) => ({ account, held }))),
          ...[...revokedInRound].flatMap((account) => account.held.filter((h) => h.round < round).map((held) => ({ account, held }))),
        ];
        for (const { account, held } of mustBeRefused) {
          for (const node of nodes) {
            const verdict = await node.auth.verify(`Bearer ${held.pair.accessToken}`).then(
              () => "accepted",
              (error: unknown) => (error instanceof AuthError ? error.code : describeError(error)),
            );
            assert.ok(
              verdict === "token_revoked" || verdict === "token_invalid",
              `${where}: a token of ${account.name} (issued before round ${held.round + 1}) on ${node.name}: ${verdict}`,
            );
          }
        }
      }
    },
  );
});

/** The admin actions that take `options.admin`. */
const ADMIN_KINDS: ReadonlySet<Kind> = new Set(["promote", "demote", "disable", "enable", "logoutUser", "revokeUserSession", "deleteUser"]);
