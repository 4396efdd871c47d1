// Concurrent self-service on PostgreSQL: rounds of password resets, email changes (confirmed or
// cancelled), second factors turned on and off, password changes, logouts (two crossing), session
// revocations and self-deletions, racing sign-ins (with the code when the factor is on), refreshes
// and verifications, on two service instances (two pools) over one database. None may end in a
// deadlock, serialization failure or lock timeout (a 503). After each round: no link worked twice or
// outlived a version bump, every token a completed revocation reached is refused on both instances,
// a deleted account left no rows, and no password-only sign-in outlived the factor going on.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { AuthError, type ErrorCode } from "../src/core/errors.js";
import type { MailMessage } from "../src/core/mail/message.js";
import type { Principal, TokenPair } from "../src/core/types.js";
import { createAuth, type Auth } from "../src/create-auth.js";
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";
import { describeError, seededRandom, stressSeed } from "./support/stress.js";
import { totpAt } from "./support/totp.js";

const PASSWORD = "a long and unguessable passphrase";
const ROUNDS = 8;
const OPERATIONS_PER_ROUND = 60;
const CORE_USERS = 6;
/** Fresh accounts per round, the only ones that delete themselves (the core users stay for the next rounds). */
const DOOMED_PER_ROUND = 3;
/**
 * Each round starts an hour later on the services' clock: a new TOTP step for every account, and
 * a new window for the 10 wrong codes an account may get an hour (not configurable), which the
 * codes a race makes stale would otherwise use up.
 */
const ROUND_CLOCK_STEP_MS = 61 * 60_000;
/** The seed of the operation mix, in every assertion message: set it to draw the same mix again (the interleaving differs). */
const SEED = stressSeed();

/** One sign-in we hold for a user: its tokens as last issued, and the principal when we verified it before the round. */
interface Held {
  pair: Pick<TokenPair, "accessToken" | "refreshToken">;
  principal: Principal | undefined;
  sessionId: string;
  /** The round before which it was issued (the setup's tokens: the previous round). */
  round: number;
}

/** The second factor as the latest successful turning-on answered it: the secret and the recovery codes we have not used. */
interface Factor {
  secret: string;
  recoveryCodes: string[];
}

type LinkKind = "reset" | "change" | "cancel";

interface Account {
  name: string;
  id: string;
  /** The address stored on the account at the round's start. */
  email: string;
  doomed: boolean;
  held: Held[];
  /** Whether the second factor was on at the round's start. */
  mfaOn: boolean;
  factor: Factor | undefined;
  /** The tokens of the links mailed to it, oldest first (used, superseded or dead ones stay). */
  links: Record<LinkKind, string[]>;
}

type Kind =
  | "forgotPassword"
  | "resetPassword"
  | "changeEmail"
  | "confirmEmail"
  | "cancelEmail"
  | "enableMfa"
  | "disableMfa"
  | "changePassword"
  | "logoutAll"
  | "logoutCrossed"
  | "revokeSession"
  | "deleteOwnAccount"
  | "login"
  | "refresh"
  | "verify";

/** How often each kind is drawn: the revoking flows most, beside enough sign-ins to race them. */
const WEIGHTS: Record<Kind, number> = {
  forgotPassword: 3,
  resetPassword: 5,
  changeEmail: 3,
  confirmEmail: 4,
  cancelEmail: 2,
  enableMfa: 4,
  disableMfa: 3,
  changePassword: 3,
  logoutAll: 2,
  logoutCrossed: 3,
  revokeSession: 3,
  deleteOwnAccount: 3,
  login: 9,
  refresh: 4,
  verify: 2,
};

/** The kinds that need a signed-in principal of the target. */
const SIGNED_IN_KINDS: ReadonlySet<Kind> = new Set([
  "changeEmail",
  "enableMfa",
  "disableMfa",
  "changePassword",
  "logoutAll",
  "logoutCrossed",
  "revokeSession",
  "deleteOwnAccount",
]);

/** Completed, these bump the version or revoke every session: no token issued before the round works after it. */
const REVOKES_EVERY_SESSION: ReadonlySet<Kind> = new Set([
  "resetPassword",
  "confirmEmail",
  "cancelEmail",
  "changePassword",
  "logoutAll",
  "deleteOwnAccount",
]);

/** Completed, these bump the account's version: every mailed link made before is dead (docs/api.md section 8). */
const BUMPS_THE_VERSION: ReadonlySet<Kind> = new Set(["resetPassword", "confirmEmail", "cancelEmail", "changePassword", "logoutAll"]);

interface Operation {
  kind: Kind;
  label: string;
  target: Account;
  /** The refusals the race may rightly give; anything else (a 503 above all) fails the round. */
  allowed: ReadonlySet<ErrorCode>;
  run(): Promise<unknown>;
  /** A new pair it issued, held for later rounds and for the token checks. */
  issued?(value: unknown): void;
  /** The mailed link's token it uses: single use, so at most one success per token, ever. */
  link?: string;
  /** Its caller's session, which a second-factor change keeps (every other one it revokes). */
  spares?: string;
  /** The sessions it ends once completed (every token of them, whenever issued). */
  ends?: string[];
}

/** How an operation that needs a second-factor code picks it (drawn with the mix, applied when it runs). */
interface CodeChoice {
  recovery: boolean;
  /** The TOTP step relative to now: -1, 0 or +1 (all accepted once, each only after the older ones). */
  offset: number;
}

describe("concurrent self-service (postgres)", { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" }, () => {
  let database: TestDatabase;
  let nodes: Array<{ name: string; auth: Auth }>;
  let sql: pg.Client;
  const random = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  let clockSkewMs = 0;
  const clock = () => Date.now() + clockSkewMs;
  /** Every address we gave an account (registered, or asked for by an email change), to route its mail. */
  const addresses = new Map<string, { account: Account; requested: boolean }>();
  const warnings: string[] = [];

  /** The shared `sendMail` of both instances (either one's outbox worker may deliver a mail): keeps the links' tokens. */
  async function received(message: MailMessage): Promise<void> {
    const link = /\/account\/(reset|verify|cancel-email)#token=([A-Za-z0-9_-]{43})/.exec(message.text);
    const owner = addresses.get(message.to.toLowerCase());
    if (link === null || owner === undefined) return;
    // A verification link to an address an email change asked for; to a registered one, registration's own.
    const kind = link[1] === "reset" ? "reset" : link[1] === "cancel-email" ? "cancel" : owner.requested ? "change" : undefined;
    if (kind !== undefined) owner.account.links[kind].push(link[2]!);
  }

  before(async () => {
    database = await createTestDatabase("postgres");
    // Many logins, password re-checks and mail requests from one address, and a hash each: no throttle, no full hashing queue.
    const options = {
      databaseUrl: database.url,
      secret: TEST_SECRET,
      sendMail: received,
      clock,
      // The clock moves an hour a round: tokens of the first round still verify in the last.
      accessTtl: 86_400,
      hashQueue: 1_000,
      onWarning: (message: string) => void warnings.push(message),
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
    `${ROUNDS} rounds of ${OPERATIONS_PER_ROUND} racing self-service operations: never a 503, and the invariants hold after each`,
    { timeout: 120_000 },
    async (t) => {
      const setup = nodes[0]!.auth;
      let registered = 0;
      let moves = 0;
      const register = async (name: string, doomed: boolean): Promise<Account> => {
        const email = `self${++registered}-${SEED}@example.com`;
        const account: Account = {
          name,
          id: "",
          email,
          doomed,
          held: [],
          mfaOn: false,
          factor: undefined,
          links: { reset: [], change: [], cancel: [] },
        };
        addresses.set(email, { account, requested: false });
        const signedUp = await setup.register({ email, password: PASSWORD });
        account.id = signedUp.user.id;
        account.held.push(holding(signedUp, undefined, 0));
        return account;
      };

      const core: Account[] = [];
      for (let i = 0; i < CORE_USERS; i++) core.push(await register(`core${i}`, false));
      const doomed: Account[] = [];
      const outcomes = new Map<string, number>();
      const failures: string[] = [];
      /** Successes per mailed link's token, over the whole run. */
      const linkSuccesses = new Map<string, number>();
      /** Password-only sign-ins found live under a second factor that was on (passwordOnlyNotUnderFactor). */
      const passwordOnlyUnderFactor: string[] = [];
      /** Access tokens both instances already refused: a refusal is for good, they need no second check. */
      const refusedForGood = new Set<string>();

      for (let round = 1; round <= ROUNDS; round++) {
        clockSkewMs += ROUND_CLOCK_STEP_MS;
        const fresh: Account[] = [];
        for (let i = 0; i < DOOMED_PER_ROUND; i++) fresh.push(await register(`doomed${doomed.length + i}`, true));
        doomed.push(...fresh);
        const state = await usersById();
        const present = [...core, ...doomed].filter((account) => state.has(account.id));
        for (const account of present) {
          const row = state.get(account.id)!;
          account.email = row.email;
          account.mfaOn = row.mfaOn;
          if (!row.mfaOn) account.factor = undefined;
        }
        // What the round's setup does, drawn before anything runs so that the seed alone decides it.
        const plans = present.map((account) => ({ account, forgot: chance(0.7), changeEmail: !account.mfaOn && chance(0.5) }));
        await Promise.all(
          plans.map((plan, i) =>
            prepare(plan, nodes[i % 2]!.auth, round).catch((error: unknown) => {
              throw new Error(`seed ${SEED}, round ${round}, preparing ${plan.account.name}: ${describeError(error)}`);
            }),
          ),
        );

        // On the services' clock: the links of the setup were made before it.
        const roundStart = new Date(clock()).toISOString();
        const liveDoomed = present.filter((account) => account.doomed);
        const operations: Operation[] = [];
        while (operations.length < OPERATIONS_PER_ROUND) operations.push(...draw(round, present, liveDoomed));
        const results = await Promise.allSettled(operations.map((operation) => operation.run()));

        const completed: Operation[] = [];
        results.forEach((result, i) => {
          const operation = operations[i]!;
          if (result.status === "fulfilled") {
            operation.issued?.(result.value);
            completed.push(operation);
            if (operation.link !== undefined) linkSuccesses.set(operation.link, (linkSuccesses.get(operation.link) ?? 0) + 1);
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
          `seed ${SEED}: unexpected refusals (a 503 is a deadlock, a serialization failure or a lock timeout); ` +
            `the round's mix: ${operations.map((o) => o.label).join("; ")}`,
        );
        await checkInvariants(round, roundStart, completed);
      }
      t.diagnostic(`seed ${SEED}; outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
      if (warnings.length > 0) t.diagnostic(`warnings: ${JSON.stringify(warnings)}`);
      // Not a mix where every revoking flow was refused up front: each of them went through at least once.
      for (const outcome of [
        "resetPassword: ok",
        "confirmEmail: ok",
        "cancelEmail: ok",
        "enableMfa: ok",
        "disableMfa: ok",
        "deleteOwnAccount: ok",
        "logoutCrossed: ok",
        "login with a second factor: ok",
      ]) {
        assert.ok((outcomes.get(outcome) ?? 0) > 0, `seed ${SEED}: never "${outcome}"`);
      }

      function count(outcome: string): void {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }

      function holding(pair: Held["pair"], principal: Principal | undefined, round: number): Held {
        return { pair, principal, sessionId: principal?.sessionId ?? sessionOf(pair.accessToken), round };
      }

      /**
       * Before the round, not racing: fresh sign-ins (the principals the round's operations
       * present; two where no code is needed, so two sessions can end each other), and mailed links
       * for the round's resets and email changes to race with.
       */
      async function prepare(plan: { account: Account; forgot: boolean; changeEmail: boolean }, auth: Auth, round: number) {
        const { account } = plan;
        const signIns = account.mfaOn ? 1 : 2;
        let principal: Principal | undefined;
        for (let i = 0; i < signIns; i++) {
          const signIn = await signInNow(auth, account);
          if (signIn === undefined) continue;
          principal = await auth.verify(`Bearer ${signIn.accessToken}`);
          account.held.push(holding(signIn, principal, round - 1));
        }
        if (plan.forgot) {
          const before = account.links.reset.length;
          await auth.forgotPassword({ email: account.email });
          await auth.settleMail();
          await delivered(() => account.links.reset.length > before, `the reset link of ${account.name}`);
        }
        if (plan.changeEmail && principal !== undefined) {
          const before = { change: account.links.change.length, cancel: account.links.cancel.length };
          await auth.changeEmail(principal, { newEmail: newAddress(account), password: PASSWORD });
          await delivered(
            () => account.links.change.length > before.change && account.links.cancel.length > before.cancel,
            `the email change links of ${account.name}`,
          );
        }
      }

      /** A sign-in of the account as it stands: with a recovery code (else the step before now) when the second factor is on. */
      async function signInNow(auth: Auth, account: Account) {
        try {
          return await auth.login({ email: account.email, password: PASSWORD });
        } catch (error) {
          if (!(error instanceof AuthError) || error.code !== "mfa_required") throw error;
          try {
            return await auth.loginMfa({ mfaToken: error.members!.mfa_token!, code: codeFor(account, { recovery: true, offset: -1 }) });
          } catch (second) {
            // Every recovery code and the step used: this account goes without a fresh sign-in this round.
            if (second instanceof AuthError && second.code === "code_invalid") return undefined;
            throw second;
          }
        }
      }

      /** A current code of the account's second factor as we know it (a stale one is refused: `code_invalid`). */
      function codeFor(account: Account, choice: CodeChoice): string {
        const factor = account.factor;
        if (factor === undefined) return "000000";
        if (choice.recovery && factor.recoveryCodes.length > 0) return factor.recoveryCodes.shift()!;
        return totpAt(factor.secret, clock(), choice.offset);
      }

      function newAddress(account: Account): string {
        const email = `${account.name}-moved${++moves}-${SEED}@example.com`;
        addresses.set(email, { account, requested: true });
        return email;
      }

      /**
       * Right after a password-only sign-in answered: if the factor is on now, the sign-in either
       * committed before it went on (and the enrolment revoked it) or it must not have been
       * written. A session still live then is one a sign-in wrote past the factor (later
       * revocations of the round would hide it from the checks after the round).
       */
      async function passwordOnlyNotUnderFactor(account: Account, accessToken: string): Promise<void> {
        const sessionId = sessionOf(accessToken);
        const { rows } = await sql.query<{ live_under_factor: boolean }>(
          `SELECT u.mfa_enabled_at IS NOT NULL AND s.revoked_at IS NULL AND s.token_version = u.token_version AS live_under_factor
           FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
          [sessionId],
        );
        if (rows[0]?.live_under_factor === true) passwordOnlyUnderFactor.push(`${account.name}, session ${sessionId}`);
      }

      /** One random operation of the round (two for a link used twice at once), on a random node. */
      function draw(round: number, present: Account[], liveDoomed: Account[]): Operation[] {
        const node = pick(nodes);
        let kind = drawKind(liveDoomed.length > 0);
        // Turning the factor off, and most sign-ins, on an account that has it on (if any has).
        const withFactor = present.filter((account) => account.factor !== undefined);
        const aimsAtFactor = withFactor.length > 0 && (kind === "disableMfa" || (kind === "login" && chance(0.75)));
        const target = kind === "deleteOwnAccount" ? pick(liveDoomed) : aimsAtFactor ? pick(withFactor) : pick(present);
        const signedIn = target.held.filter((h) => h.principal !== undefined).slice(-2);
        if (SIGNED_IN_KINDS.has(kind) && signedIn.length === 0) kind = "login";
        // An account deleting itself: its tokens, password, links and pending sign-ins no longer work.
        const gone = new Set<ErrorCode>();
        if (target.doomed) {
          for (const code of ["not_found", "token_invalid", "invalid_credentials", "link_invalid", "mfa_token_invalid"] as const) {
            gone.add(code);
          }
        }
        const allowed = new Set(gone);
        const auth = node.auth;
        const label = (what: string = kind, on: string = node.name) => `${what} ${target.name} on ${on}`;
        const principal = signedIn.length === 0 ? undefined : pick(signedIn).principal!;
        const latest = () => pick(target.held.slice(-3));
        const hold = (value: unknown) => target.held.push(holding(value as TokenPair, undefined, round));
        const choice: CodeChoice = { recovery: chance(0.6), offset: pick([0, 0, 0, 1, 1, -1]) };
        const base = { kind, target, allowed };
        switch (kind) {
          case "forgotPassword":
            // Answered at once; the link is stored and mailed after the answer (it supersedes the older one).
            return [{ ...base, label: label(), run: () => auth.forgotPassword({ email: target.email }) }];
          case "resetPassword":
          case "confirmEmail":
          case "cancelEmail": {
            allowed.add("link_invalid");
            const kindOfLink: LinkKind = kind === "resetPassword" ? "reset" : kind === "confirmEmail" ? "change" : "cancel";
            const links = target.links[kindOfLink];
            if (links.length === 0) return [verifyLatest()];
            // Mostly the newest link, sometimes an older (used, superseded or dead) one.
            const link = chance(0.75) ? links.at(-1)! : pick(links);
            const use = (on: Auth) =>
              kind === "resetPassword"
                ? on.resetPassword({ token: link, newPassword: PASSWORD })
                : kind === "confirmEmail"
                  ? on.verifyEmail({ token: link })
                  : on.cancelEmailChange({ token: link });
            // Often the same link twice at once, on both nodes: one use at most may succeed.
            if (chance(0.4)) return nodes.map((n) => ({ ...base, label: label(kind, n.name), link, run: () => use(n.auth) }));
            return [{ ...base, label: label(), link, run: () => use(auth) }];
          }
          case "changeEmail": {
            for (const code of ["token_revoked", "code_invalid"] as const) allowed.add(code);
            const newEmail = newAddress(target);
            const run = () =>
              auth.changeEmail(principal!, {
                newEmail,
                password: PASSWORD,
                // Ignored when the factor is off; stale when it changed meanwhile (code_invalid).
                ...(target.factor === undefined ? {} : { code: codeFor(target, choice) }),
              });
            return [{ ...base, label: label(), run }];
          }
          case "enableMfa": {
            // On already, or turned on by another enrolment first; the code of a restarted enrolment no longer fits.
            for (const code of ["mfa_enabled", "token_revoked", "code_invalid"] as const) allowed.add(code);
            const run = async () => {
              const { secret } = await auth.startTotp(principal!);
              const recoveryCodes = await auth.confirmTotp(principal!, { code: totpAt(secret, clock()), password: PASSWORD });
              // At once: the round's later sign-ins and changes need it.
              target.factor = { secret, recoveryCodes };
            };
            const enable: Operation = { ...base, label: label(), spares: principal!.sessionId, run };
            // Mostly with a password sign-in of the account at once, on the other node: it must
            // either commit before the factor goes on (and be revoked by it) or ask for a code.
            return !target.mfaOn && chance(0.7) ? [enable, signIn(nodes.find((n) => n !== node)!)] : [enable];
          }
          case "disableMfa": {
            // Off already (or off and on again: a stale code), or the code used by another request first.
            for (const code of ["code_invalid", "token_revoked"] as const) allowed.add(code);
            const run = () => auth.disableTotp(principal!, { password: PASSWORD, code: codeFor(target, choice) });
            return [{ ...base, label: label(), spares: principal!.sessionId, run }];
          }
          case "changePassword": {
            // The same password again: every later login still knows it, and the change still
            // bumps the version, re-keys the session and revokes the others under the user's lock.
            allowed.add("token_revoked");
            const input = { currentPassword: PASSWORD, newPassword: PASSWORD };
            return [{ ...base, label: label(), run: () => auth.changePassword(principal!, input), issued: hold }];
          }
          case "logoutAll":
            return [{ ...base, label: label(), run: () => auth.logout(principal!, { scope: "all" }) }];
          case "logoutCrossed": {
            // Two sign-ins of the account each end themselves and the other (scope session, the
            // other's refresh token), at once, on both nodes: the same two sessions in opposite orders.
            const [first, second] = signedIn;
            if (second === undefined) {
              const ends = [first!.sessionId];
              return [{ ...base, label: label(), ends, run: () => auth.logout(first!.principal!, { scope: "session" }) }];
            }
            const [a, b] = nodes;
            const run = () =>
              Promise.all([
                a!.auth.logout(first!.principal!, { scope: "session", refreshToken: second.pair.refreshToken }),
                b!.auth.logout(second.principal!, { scope: "session", refreshToken: first!.pair.refreshToken }),
              ]);
            return [{ ...base, label: label(kind, "A and B"), ends: [first!.sessionId, second.sessionId], run }];
          }
          case "revokeSession": {
            // Another of its sessions (already revoked by another operation, or earlier: not found).
            allowed.add("not_found");
            const others = target.held.slice(-4).filter((h) => h.sessionId !== principal!.sessionId);
            const sessionId = others.length === 0 ? principal!.sessionId : pick(others).sessionId;
            return [{ ...base, label: label(), ends: [sessionId], run: () => auth.revokeSession(principal!, sessionId) }];
          }
          case "deleteOwnAccount":
            allowed.add("token_revoked");
            return [{ ...base, label: label(), run: () => auth.deleteOwnAccount(principal!, { password: PASSWORD }) }];
          case "login":
            return [signIn(node)];
          case "refresh": {
            for (const code of ["token_revoked", "refresh_reused"] as const) allowed.add(code);
            const refreshToken = latest().pair.refreshToken;
            return [{ ...base, label: label(), run: () => auth.refresh(refreshToken), issued: hold }];
          }
          case "verify":
            return [verifyLatest()];
        }

        /** A sign-in of the target with its password, then with a code if the factor is on. */
        function signIn(on: { name: string; auth: Auth }): Operation {
          // The address changed, or the hash (a reset or change to the same password) since the
          // password check; the second factor turned off, or the version bumped, before the code;
          // the code stale or used by another request first.
          const refusals = new Set(gone);
          for (const code of ["invalid_credentials", "mfa_token_invalid", "code_invalid"] as const) refusals.add(code);
          const email = target.email;
          const run = async () => {
            let pair;
            try {
              pair = await on.auth.login({ email, password: PASSWORD });
            } catch (error) {
              if (!(error instanceof AuthError) || error.code !== "mfa_required") throw error;
              pair = await on.auth.loginMfa({ mfaToken: error.members!.mfa_token!, code: codeFor(target, choice) });
              count("login with a second factor: ok");
              return pair;
            }
            await passwordOnlyNotUnderFactor(target, pair.accessToken);
            return pair;
          };
          return { kind: "login", target, allowed: refusals, label: label("login", on.name), run, issued: hold };
        }

        function verifyLatest(): Operation {
          allowed.add("token_revoked");
          const accessToken = latest().pair.accessToken;
          return { ...base, kind: "verify", label: label("verify"), run: () => auth.verify(`Bearer ${accessToken}`) };
        }
      }

      function drawKind(canDelete: boolean): Kind {
        const kinds = (Object.keys(WEIGHTS) as Kind[]).filter((k) => canDelete || k !== "deleteOwnAccount");
        let roll = random() * kinds.reduce((sum, k) => sum + WEIGHTS[k], 0);
        for (const kind of kinds) {
          roll -= WEIGHTS[kind];
          if (roll < 0) return kind;
        }
        return kinds[kinds.length - 1]!;
      }

      async function usersById(): Promise<Map<string, { email: string; mfaOn: boolean }>> {
        const { rows } = await sql.query<{ id: string; email: string; mfa_on: boolean }>(
          "SELECT id, email, mfa_enabled_at IS NOT NULL AS mfa_on FROM users",
        );
        return new Map(rows.map((r) => [r.id, { email: r.email, mfaOn: r.mfa_on }]));
      }

      async function checkInvariants(round: number, roundStart: string, completed: Operation[]): Promise<void> {
        const where = `seed ${SEED}, after round ${round}`;
        const state = await usersById();

        // One conditional DELETE uses a link up: of any number of uses, one at most succeeds.
        const usedTwice = [...linkSuccesses].filter(([, n]) => n > 1);
        assert.deepEqual(usedTwice, [], `${where}: mailed links that worked more than once`);

        // A version bump kills every link made before it (a reset, an email change or its cancel
        // delete them too): none made before the round still matches its account's version and address.
        const bumped = [...new Set(completed.filter((o) => BUMPS_THE_VERSION.has(o.kind)).map((o) => o.target.id))];
        const { rows: liveLinks } = await sql.query(
          `SELECT l.user_id, l.purpose FROM tokenver_links l JOIN users u ON u.id = l.user_id
           WHERE l.user_id = ANY($1) AND l.created_at::timestamptz < $2::timestamptz
             AND l.token_version = u.token_version AND l.email = u.email`,
          [bumped, roundStart],
        );
        assert.deepEqual(liveLinks, [], `${where}: links made before a completed version bump still live`);

        // A deleted account leaves nothing that could sign in or be used again.
        const deleted = doomed.filter((account) => !state.has(account.id));
        const ids = deleted.map((account) => account.id);
        const sessionIds = deleted.flatMap((account) => account.held.map((h) => h.sessionId));
        const { rows: leftovers } = await sql.query(
          `SELECT 'sessions' AS kind, user_id AS id FROM sessions WHERE user_id = ANY($1)
           UNION ALL SELECT 'refresh_tokens', session_id FROM refresh_tokens WHERE session_id = ANY($2)
           UNION ALL SELECT 'links', user_id FROM tokenver_links WHERE user_id = ANY($1)
           UNION ALL SELECT 'totp', user_id FROM tokenver_totp WHERE user_id = ANY($1)
           UNION ALL SELECT 'recovery_codes', user_id FROM tokenver_recovery_codes WHERE user_id = ANY($1)
           UNION ALL SELECT 'mfa_challenges', user_id FROM tokenver_mfa_challenges WHERE user_id = ANY($1)`,
          [ids, sessionIds],
        );
        assert.deepEqual(leftovers, [], `${where}: rows of deleted accounts left`);

        // Turning the factor on revokes every other session, and a password sign-in that reads it
        // on no longer writes one: with it on, the only live sign-in without `mfa` in its amr is
        // the enroller's own (created before the factor went on).
        const { rows: passwordOnly } = await sql.query<{ user_id: string; id: string; after_enable: boolean }>(
          `SELECT s.user_id, s.id, s.created_at::timestamptz >= u.mfa_enabled_at::timestamptz AS after_enable
           FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE u.mfa_enabled_at IS NOT NULL AND s.revoked_at IS NULL AND s.token_version = u.token_version
             AND NOT ('mfa' = ANY(string_to_array(s.amr, ' ')))`,
        );
        assert.deepEqual(
          passwordOnly.filter((r) => r.after_enable),
          [],
          `${where}: password-only sessions created after the second factor went on`,
        );
        assert.deepEqual(passwordOnlyUnderFactor, [], `${where}: password-only sign-ins live with the second factor on`);
        const perUser = new Map<string, number>();
        for (const row of passwordOnly) perUser.set(row.user_id, (perUser.get(row.user_id) ?? 0) + 1);
        assert.deepEqual(
          [...perUser].filter(([, n]) => n > 1),
          [],
          `${where}: accounts with the second factor on and several live password-only sessions`,
        );

        // Every token that a completed revocation of the round reached: of a deleted account; of
        // an account whose every session a completed operation revoked, issued before the round;
        // of a session another one ended; issued before a second-factor change, but its caller's.
        const everyRevoked = new Set(completed.filter((o) => REVOKES_EVERY_SESSION.has(o.kind)).map((o) => o.target));
        const factorChanges = completed.filter((o) => o.spares !== undefined);
        const endedSessions = new Set(completed.flatMap((o) => o.ends ?? []));
        const mustBeRefused: Array<{ account: Account; held: Held; why: string }> = [];
        for (const account of [...core, ...doomed]) {
          for (const held of account.held) {
            if (refusedForGood.has(held.pair.accessToken)) continue;
            const before = held.round < round;
            const why = !state.has(account.id)
              ? "its account was deleted"
              : before && everyRevoked.has(account)
                ? "a revocation of every session of its account completed"
                : endedSessions.has(held.sessionId)
                  ? "its session was ended"
                  : before && factorChanges.some((o) => o.target === account && o.spares !== held.sessionId)
                    ? "the second factor changed from another session"
                    : undefined;
            if (why !== undefined) mustBeRefused.push({ account, held, why });
          }
        }
        for (const { account, held, why } of mustBeRefused) {
          for (const node of nodes) {
            const verdict = await node.auth.verify(`Bearer ${held.pair.accessToken}`).then(
              () => "accepted",
              (error: unknown) => (error instanceof AuthError ? error.code : describeError(error)),
            );
            assert.ok(
              verdict === "token_revoked" || verdict === "token_invalid",
              `${where}: a token of ${account.name} (issued before round ${held.round + 1}; ${why}) on ${node.name}: ${verdict}`,
            );
          }
          refusedForGood.add(held.pair.accessToken);
        }
      }
    },
  );
});

/** Until `arrived()` (a mail the outbox worker delivers a moment after the commit); fails after 10 seconds. */
async function delivered(arrived: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!arrived()) {
    if (Date.now() > deadline) throw new Error(`${what} never arrived`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The session of an access token (its `sid` claim), read without verifying it. */
function sessionOf(accessToken: string): string {
  const payload = accessToken.split(".")[1] ?? "";
  return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sid: string }).sid;
}
