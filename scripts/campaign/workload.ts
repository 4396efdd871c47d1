import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { totpAt } from "../../test/support/totp.js";
import type { IssuedToken, Operation, OpType } from "./history.js";
import { Random } from "./random.js";

/**
 * The clients: each loops over random operations on random nodes against a pool of users that all
 * clients share (so operations on one user overlap across clients and nodes), and records every
 * operation (history.ts). Right after a revocation returns, the client reads the tokens it revoked
 * on every node at once: the moment a stale node would show.
 *
 * The flows that revoke since v2 go through the same clients: password reset and email change
 * (the link read from the mail the campaign's SMTP server received), account deletion, a second
 * factor turned on and off, an admin's logout, disable and enable of a user, and (from run.ts, on
 * a timer) `tokenver keys revoke` of the key that signs.
 */

/** The mail the servers sent, as the campaign's SMTP server received it. */
export interface MailBox {
  /** How many mails to `address` whose subject contains `subject` have arrived. */
  count(address: string, subject: string): number;
  /** The `#token=` of the first such mail after the first `after` ones, once it arrives (undefined after `timeoutMs`). */
  link(address: string, subject: string, after: number, timeoutMs: number): Promise<string | undefined>;
}

export const RESET_SUBJECT = "Reset your password";
export const VERIFY_SUBJECT = "Confirm your email address";

export interface Target {
  nodes: number;
  url(node: number): string;
}

export interface WorkloadOptions {
  clients: number;
  seed: number;
  /** Milliseconds a request may take before it counts as no answer. */
  requestTimeoutMs: number;
  /** Each client waits up to this many ms between operations. */
  thinkMs: number;
  /** Users registered up front; registration goes on until `maxUsers`. */
  initialUsers: number;
  maxUsers: number;
  /** The one clock of the history. */
  now(): number;
  record(op: Operation): void;
  /** Without it, no reset or email change. */
  mail?: MailBox;
  /** An admin made with `tokenver users create --admin`; without it, no admin operations. */
  admin?: { email: string; password: string };
  /** Scale the v2 flows' weights (0: v1 operations only). */
  v2Weight?: number;
}

interface Access {
  id: string;
  raw: string;
  user: string;
  session: string;
  version: number;
  kid?: string;
  /** When the answer that carried it arrived. */
  at: number;
}

interface Refresh {
  id: string;
  raw: string;
  user: string;
  session: string;
}

interface Session {
  id: string;
  created: number;
  /** A node said so (or a revocation of ours did): the workload mostly leaves it alone then. */
  dead: boolean;
  access: Access[];
  refresh: Refresh[];
}

interface User {
  id: string;
  email: string;
  /** Candidates, most likely first: a password change without an answer leaves two. */
  passwords: string[];
  sessions: Map<string, Session>;
  /** A second factor (maybe) on: its secret, the recovery codes not used yet, the last TOTP step sent. */
  mfa?: { secret: string; recovery: string[]; step?: number };
  /** An admin disabled the account (as far as the workload knows). */
  disabled?: boolean;
  /** A flow of several requests (reset, email change, second factor, deletion) is under way. */
  busy?: boolean;
  /** The address an unanswered email change may have switched to. */
  altEmail?: string | undefined;
}

interface Answer {
  status: number | null;
  body?: any;
  code?: string;
  error?: string;
}

type Action =
  | "profile"
  | "refresh"
  | "login"
  | "logout_session"
  | "logout_all"
  | "password_change"
  | "session_delete"
  | "sessions_list"
  | "register"
  | "password_reset"
  | "email_change"
  | "account_delete"
  | "mfa"
  | "admin";

const WEIGHTS: Record<Action, number> = {
  profile: 34,
  refresh: 16,
  login: 9,
  logout_session: 6,
  logout_all: 4,
  password_change: 3,
  session_delete: 5,
  sessions_list: 3,
  register: 1,
  password_reset: 1.2,
  email_change: 0.8,
  account_delete: 0.3,
  mfa: 0.8,
  admin: 1.5,
};
const V2: ReadonlySet<Action> = new Set(["password_reset", "email_change", "account_delete", "mfa", "admin"]);
/** At most this many users at once with a second factor on, and disabled. */
const MAX_MFA_USERS = 2;
const MAX_DISABLED_USERS = 2;
const MAIL_TIMEOUT_MS = 20_000;

const MAX_SESSIONS_PER_USER = 12;
const MAX_TOKENS_PER_SESSION = 6;

export class Workload {
  readonly users: User[] = [];
  /** Users whose account was deleted: their tokens are read again at the end. */
  readonly gone: User[] = [];
  readonly #sessions = new Map<string, Session>();
  readonly #weights: Record<Action, number>;
  #admin: User | undefined;
  #adminLogin: Promise<void> | undefined;
  /** Names of links by their token, so that a replay carries the same name. */
  readonly #links = new Map<string, string>();
  /** Access tokens refused as token_invalid after a key revocation: read again at the end. */
  readonly #keyRevoked: Access[] = [];
  #lastKid: string | undefined;
  readonly #revokedKids = new Set<string>();
  #nextOp = 0;
  #nextToken = 0;
  #stopped = false;
  readonly #random: Random;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** A node that refused a connection is left alone for a second (as a load balancer would); probes still read it. */
  readonly #downUntil: number[];

  constructor(
    readonly target: Target,
    readonly options: WorkloadOptions,
  ) {
    this.#random = new Random(options.seed);
    this.#downUntil = new Array<number>(target.nodes).fill(-Infinity);
    const scale = options.v2Weight ?? 1;
    this.#weights = Object.fromEntries(Object.entries(WEIGHTS).map(([k, w]) => [k, V2.has(k as Action) ? w * scale : w])) as Record<
      Action,
      number
    >;
    if (options.mail === undefined) this.#weights.password_reset = this.#weights.email_change = 0;
    if (options.admin === undefined) this.#weights.admin = 0;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Registers the initial users, then runs every client until `stop()`. */
  async run(): Promise<void> {
    const setup = new Random(this.options.seed ^ 0x5eed);
    while (this.users.length < this.options.initialUsers && !this.#stopped) {
      await Promise.all(
        Array.from({ length: Math.min(4, this.options.initialUsers - this.users.length) }, () =>
          this.#register(-1, setup.int(this.target.nodes)),
        ),
      );
    }
    await Promise.all(Array.from({ length: this.options.clients }, (_, c) => this.#client(c)));
    await Promise.allSettled([...this.#inFlight]);
  }

  async #client(client: number): Promise<void> {
    const random = new Random(this.options.seed * 7919 + client + 1);
    while (!this.#stopped) {
      try {
        await this.#step(client, random);
      } catch (error) {
        // A bug of the campaign itself: say it, keep going.
        console.error(`campaign: client ${client}:`, error);
      }
      await sleep(random.int(this.options.thinkMs + 1));
    }
  }

  async #step(client: number, random: Random): Promise<void> {
    const now = this.options.now();
    const up = Array.from({ length: this.target.nodes }, (_, i) => i).filter((i) => this.#downUntil[i]! < now);
    const node = up.length > 0 ? random.pick(up) : random.int(this.target.nodes);
    let type = random.weighted(this.#weights);
    if (type === "register" && this.users.length >= this.options.maxUsers) type = "login";
    if (type === "register" || this.users.length === 0) return void (await this.#register(client, node));
    if (type === "admin") return this.#adminAction(client, node, random);
    const active = this.users.filter((u) => !u.disabled);
    if (active.length === 0) return;
    const user = random.pick(active);
    if (type === "login") return void (await this.#login(client, node, user));
    if (type === "password_reset") return this.#resetPassword(client, node, user, random);
    const sessions = [...user.sessions.values()];
    const live = sessions.filter((s) => !s.dead);
    if (live.length === 0 || (live.length < 3 && random.chance(0.1))) return void (await this.#login(client, node, user));
    // Mostly live sessions; sometimes one known to be revoked (it must stay refused).
    const session = random.chance(0.9) ? random.pick(live) : random.pick(sessions);
    if (type === "refresh") return this.#refresh(client, node, session, random);
    // Mostly the session's newest token; sometimes an older one, or one of another session.
    const pool = random.chance(0.75) ? session.access.slice(-1) : random.chance(0.5) ? session.access : sessions.flatMap((s) => s.access);
    const token = pool.length > 0 ? random.pick(pool) : undefined;
    if (token === undefined) return this.#refresh(client, node, session, random);
    switch (type) {
      case "email_change":
        return this.#changeEmail(client, node, user, token, random);
      case "account_delete":
        return this.#deleteAccount(client, node, user, token);
      case "mfa":
        return this.#secondFactor(client, node, user, token);
      case "profile":
        await this.#bearer(client, node, "profile", "GET", "/profile", token);
        return;
      case "sessions_list":
        await this.#bearer(client, node, "sessions_list", "GET", "/sessions", token);
        return;
      case "logout_all": {
        const answer = await this.#bearer(client, node, "logout_all", "POST", "/logout", token, { scope: "all" });
        if (answer.status !== 204) return;
        for (const s of user.sessions.values()) if (s.created < answer.start) s.dead = true;
        await this.#probe(
          client,
          this.#tokensOf(user, (_, s) => s.created < answer.start),
        );
        return;
      }
      case "logout_session": {
        const answer = await this.#bearer(client, node, "logout_session", "POST", "/logout", token, { scope: "session" });
        if (answer.status !== 204) return;
        const revoked = this.#sessions.get(token.session);
        if (revoked !== undefined) revoked.dead = true;
        await this.#probe(
          client,
          this.#tokensOf(user, (_, s) => s.id === token.session),
        );
        return;
      }
      case "session_delete": {
        const target = random.chance(0.85) ? random.pick(sessions).id : session.id;
        const answer = await this.#bearer(client, node, "session_delete", "DELETE", `/sessions/${target}`, token, undefined, { target });
        if (answer.status !== 204) return;
        const revoked = user.sessions.get(target);
        if (revoked !== undefined) revoked.dead = true;
        await this.#probe(
          client,
          this.#tokensOf(user, (_, s) => s.id === target),
        );
        return;
      }
      case "password_change":
        return this.#changePassword(client, node, user, token);
    }
  }

  /** Up to four known access tokens of the user that match, newest sessions first. */
  #tokensOf(user: User, covered: (t: Access, s: Session) => boolean): Access[] {
    const out: Access[] = [];
    for (const s of [...user.sessions.values()].reverse()) for (const t of s.access) if (covered(t, s)) out.push(t);
    return out.slice(0, 4);
  }

  /**
   * Reads each token on every node at once, and once more a moment later (in the background): a
   * stale state can also come back later (a cache filled again from a Redis that lost markers).
   */
  async #probe(client: number, tokens: Access[]): Promise<void> {
    const read = () =>
      Promise.all(
        tokens.flatMap((t) =>
          Array.from({ length: this.target.nodes }, (_, node) => this.#bearer(client, node, "profile", "GET", "/profile", t)),
        ),
      );
    await read();
    const later = sleep(500 + this.#random.int(5_500)).then(() => (this.#stopped ? undefined : read()));
    this.#inFlight.add(later);
    void later.finally(() => this.#inFlight.delete(later));
  }

  /** Reads every token still known on every node: the end of the campaign, after it healed. */
  async finalProbe(concurrency = 8): Promise<number> {
    const tokens = [...this.users, ...this.gone].flatMap((u) => [...u.sessions.values()].flatMap((s) => s.access));
    tokens.push(...this.#keyRevoked);
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < tokens.length) {
          const t = tokens[next++]!;
          for (let node = 0; node < this.target.nodes; node++) await this.#bearer(-2, node, "profile", "GET", "/profile", t);
        }
      }),
    );
    return tokens.length;
  }

  /**
   * `tokenver keys revoke` of the key that signed the newest token (`run` runs the command), as
   * an operation of the history (node -1), then that key's tokens read on every node.
   */
  async revokeKey(run: (kid: string) => Promise<{ code: number | null; error?: string }>): Promise<string | undefined> {
    const kid = this.#lastKid;
    if (kid === undefined || this.#stopped || this.#revokedKids.has(kid)) return undefined;
    this.#revokedKids.add(kid);
    const start = this.options.now();
    const result = await run(kid);
    const end = this.options.now();
    const op: Operation = {
      id: ++this.#nextOp,
      client: -3,
      type: "key_revoke",
      node: -1,
      start,
      end,
      status: result.code === 0 ? 204 : null,
    };
    op.target = kid;
    // A command that failed may have committed before it failed: indeterminate, never a definite refusal.
    if (result.code !== 0) op.error = result.error ?? `exit ${result.code}`;
    this.options.record(op);
    if (result.code === 0) {
      const signed = [...this.users, ...(this.#admin ? [this.#admin] : [])]
        .flatMap((u) => [...u.sessions.values()].flatMap((s) => s.access))
        .filter((t) => t.kid === kid);
      await this.#probe(-3, signed.slice(-8));
    }
    return kid;
  }

  #other(node: number, random: Random): number {
    return this.target.nodes === 1 ? node : (node + 1 + random.int(this.target.nodes - 1)) % this.target.nodes;
  }

  #linkId(raw: string): string {
    let id = this.#links.get(raw);
    if (id === undefined) this.#links.set(raw, (id = `l${this.#links.size + 1}`));
    return id;
  }

  /** Marks the sessions a revocation covered as dead and reads their tokens on every node. */
  async #revoked(client: number, user: User, covered: (s: Session) => boolean): Promise<void> {
    for (const s of user.sessions.values()) if (covered(s)) s.dead = true;
    await this.#probe(
      client,
      this.#tokensOf(user, (_, s) => covered(s)),
    );
  }

  /**
   * Uses a link (reset or email change): on one node, or (sometimes) on two at once, and sometimes
   * once more afterwards: it must work at most once.
   */
  async #useLink(
    client: number,
    node: number,
    user: User,
    random: Random,
    type: "password_reset" | "email_confirm",
    raw: string,
    linkOp: number,
    body: Record<string, string>,
  ) {
    const link = this.#linkId(raw);
    const path = type === "password_reset" ? "/password/reset" : "/email/verify";
    const call = (n: number) => this.#call(client, n, type, "POST", path, { body, user: user.id, link, linkOp });
    const answers = await Promise.all((random.chance(0.15) ? [node, this.#other(node, random)] : [node]).map(call));
    if (answers.some((a) => a.status !== null && a.status < 300) && random.chance(0.15))
      answers.push(await call(this.#other(node, random)));
    return answers;
  }

  async #resetPassword(client: number, node: number, user: User, random: Random): Promise<void> {
    const mail = this.options.mail;
    if (mail === undefined || user.busy) return;
    user.busy = true;
    try {
      const email = user.email;
      const before = mail.count(email, RESET_SUBJECT);
      const forgot = await this.#call(client, node, "password_forgot", "POST", "/password/forgot", { body: { email }, user: user.id });
      if (forgot.status !== 202) return;
      const raw = await mail.link(email, RESET_SUBJECT, before, MAIL_TIMEOUT_MS);
      if (raw === undefined || this.#stopped) return;
      const current = user.passwords[0]!;
      const next = newPassword();
      const answers = await this.#useLink(client, this.#other(node, random), user, random, "password_reset", raw, forgot.id, {
        token: raw,
        new_password: next,
      });
      const done = answers.find((a) => a.status === 204);
      if (done !== undefined) {
        user.passwords = [next];
        await this.#revoked(client, user, (s) => s.created < done.start);
      } else if (answers.some((a) => a.status === null || a.status >= 500)) user.passwords = [current, next];
    } finally {
      user.busy = false;
    }
  }

  async #changeEmail(client: number, node: number, user: User, token: Access, random: Random): Promise<void> {
    const mail = this.options.mail;
    if (mail === undefined || user.busy || user.mfa !== undefined) return;
    user.busy = true;
    try {
      const email = `campaign-${randomBytes(6).toString("hex")}@example.com`;
      const asked = await this.#bearer(client, node, "email_change", "POST", "/email", token, {
        new_email: email,
        password: user.passwords[0]!,
      });
      if (asked.status !== 202) return;
      const raw = await mail.link(email, VERIFY_SUBJECT, 0, MAIL_TIMEOUT_MS);
      if (raw === undefined || this.#stopped) return;
      const answers = await this.#useLink(client, this.#other(node, random), user, random, "email_confirm", raw, asked.id, { token: raw });
      const done = answers.find((a) => a.status === 200);
      if (done !== undefined) {
        user.email = email;
        user.altEmail = undefined;
        await this.#revoked(client, user, (s) => s.created < done.start);
      } else if (answers.some((a) => a.status === null || a.status >= 500)) user.altEmail = email;
    } finally {
      user.busy = false;
    }
  }

  async #deleteAccount(client: number, node: number, user: User, token: Access): Promise<void> {
    if (user.busy || user.mfa !== undefined || this.users.length <= this.options.initialUsers / 2) return;
    user.busy = true;
    try {
      const answer = await this.#bearer(client, node, "account_delete", "DELETE", "/profile", token, { password: user.passwords[0]! });
      if (answer.status !== 204) return;
      const index = this.users.indexOf(user);
      if (index !== -1) this.users.splice(index, 1);
      this.gone.push(user);
      await this.#revoked(client, user, () => true);
      // Signing in again must fail: the account is gone.
      await this.#call(client, this.#other(node, this.#random), "login", "POST", "/login", {
        body: { email: user.email, password: user.passwords[0]! },
        user: user.id,
      });
    } finally {
      user.busy = false;
    }
  }

  /** Turns a second factor on (start, confirm with a current code) or, when on, off (with a recovery code). */
  async #secondFactor(client: number, node: number, user: User, token: Access): Promise<void> {
    if (user.busy) return;
    const password = user.passwords[0]!;
    if (user.mfa === undefined) {
      if (this.users.filter((u) => u.mfa !== undefined).length >= MAX_MFA_USERS) return;
      user.busy = true;
      try {
        const started = await this.#bearer(client, node, "mfa_start", "POST", "/mfa/totp", token);
        if (started.status !== 200 || typeof started.body?.secret !== "string") return;
        const secret: string = started.body.secret;
        const step = Math.floor(Date.now() / 30_000);
        const answer = await this.#bearer(client, node, "mfa_enable", "POST", "/mfa/totp/confirm", token, {
          code: totpAt(secret, Date.now()),
          password,
        });
        if (answer.status === 200 && Array.isArray(answer.body?.recovery_codes)) {
          user.mfa = { secret, recovery: [...(answer.body.recovery_codes as string[])], step };
          await this.#revoked(client, user, (s) => s.id !== token.session && s.created < answer.start);
        } else if (answer.status === null || answer.status >= 500) user.mfa = { secret, recovery: [], step };
      } finally {
        user.busy = false;
      }
      return;
    }
    user.busy = true;
    try {
      const mfa = user.mfa;
      const code = mfa.recovery.shift() ?? nextTotp(mfa);
      if (code === undefined) return;
      const answer = await this.#bearer(client, node, "mfa_disable", "DELETE", "/mfa/totp", token, { password, code });
      if (answer.status === 204) {
        user.mfa = undefined;
        await this.#revoked(client, user, (s) => s.id !== token.session && s.created < answer.start);
      }
    } finally {
      user.busy = false;
    }
  }

  /** A valid access token of the admin: the newest known, else a refresh, else a sign-in. */
  async #adminAccess(client: number, node: number): Promise<Access | undefined> {
    const creds = this.options.admin;
    if (creds === undefined) return undefined;
    const admin = this.#admin;
    const session = admin === undefined ? undefined : [...admin.sessions.values()].reverse().find((s) => !s.dead);
    const access = session?.access[session.access.length - 1];
    if (access !== undefined) return access;
    if (session !== undefined && session.refresh.length > 0) {
      const refresh = session.refresh[session.refresh.length - 1]!;
      const answer = await this.#call(client, node, "refresh", "POST", "/token/refresh", {
        body: { refresh: refresh.raw },
        token: refresh.id,
        session: refresh.session,
      });
      if (answer.status === 200) {
        this.#keep(admin!, answer);
        return answer.access;
      }
      if (answer.status !== 401) return undefined;
      session.dead = true;
    }
    // One sign-in at a time.
    this.#adminLogin ??= (async () => {
      const answer = await this.#call(client, node, "login", "POST", "/login", { body: { email: creds.email, password: creds.password } });
      if (answer.status !== 200 || typeof answer.body?.user?.id !== "string") return;
      this.#admin ??= { id: answer.body.user.id, email: creds.email, passwords: [creds.password], sessions: new Map() };
      this.#keep(this.#admin, answer);
    })().finally(() => (this.#adminLogin = undefined));
    await this.#adminLogin;
    const fresh = this.#admin === undefined ? undefined : [...this.#admin.sessions.values()].reverse().find((s) => !s.dead);
    return fresh?.access[fresh.access.length - 1];
  }

  /** The admin logs a user out, disables one, or enables a disabled one. */
  async #adminAction(client: number, node: number, random: Random): Promise<void> {
    const admin = await this.#adminAccess(client, node);
    if (admin === undefined) return;
    const disabled = this.users.filter((u) => u.disabled);
    let type: "admin_logout" | "admin_disable" | "admin_enable";
    let user: User;
    if (disabled.length > 0 && (random.chance(0.35) || disabled.length >= MAX_DISABLED_USERS)) {
      type = "admin_enable";
      user = random.pick(disabled);
      // While disabled, signing in must be refused (403 account_disabled).
      if (random.chance(0.5)) await this.#login(client, this.#other(node, random), user);
    } else {
      const candidates = this.users.filter((u) => !u.disabled && !u.busy);
      if (candidates.length === 0) return;
      user = random.pick(candidates);
      type = random.chance(0.55) ? "admin_logout" : "admin_disable";
    }
    const path = `/admin/users/${user.id}/${type.slice("admin_".length)}`;
    const answer = await this.#bearer(client, node, type, "POST", path, admin, undefined, { target: user.id });
    if (type === "admin_enable") {
      if (answer.status === 204) user.disabled = false;
      return;
    }
    if (type === "admin_disable" && (answer.status === 204 || answer.status === null || answer.status >= 500)) user.disabled = true;
    if (answer.status !== 204) return;
    await this.#revoked(client, user, (s) => s.created < answer.start);
    if (type === "admin_disable" && random.chance(0.5)) await this.#login(client, this.#other(node, random), user);
  }

  async #register(client: number, node: number): Promise<void> {
    const email = `campaign-${randomBytes(6).toString("hex")}@example.com`;
    const password = newPassword();
    const answer = await this.#call(client, node, "register", "POST", "/register", { body: { email, password } });
    if (answer.status !== 201) return;
    const user: User = { id: answer.body.user.id, email, passwords: [password], sessions: new Map() };
    this.users.push(user);
    this.#keep(user, answer);
  }

  async #login(client: number, node: number, user: User): Promise<void> {
    const password = user.passwords[0]!;
    const answer = await this.#call(client, node, "login", "POST", "/login", { body: { email: user.email, password }, user: user.id });
    if (answer.status === 200) {
      if (user.passwords[0] === password) user.passwords.splice(1);
      this.#keep(user, answer);
    } else if (answer.status === 403 && answer.code === "mfa_required" && typeof answer.body?.mfa_token === "string" && user.mfa) {
      // The second step: a recovery code while more than two are left (two stay for turning it
      // off), else the current TOTP code, once per time step (a code works once per account).
      const code = user.mfa.recovery.length > 2 ? user.mfa.recovery.shift()! : nextTotp(user.mfa);
      if (code === undefined) return;
      const second = await this.#call(client, node, "login_mfa", "POST", "/login/mfa", {
        body: { mfa_token: answer.body.mfa_token, code },
        user: user.id,
      });
      if (second.status === 200) {
        if (user.passwords[0] === password) user.passwords.splice(1);
        this.#keep(user, second);
      }
    } else if (answer.status === 401 && user.altEmail !== undefined) {
      // An email change without an answer: try the other address next time.
      [user.email, user.altEmail] = [user.altEmail, user.email];
    } else if (answer.status === 401 && user.passwords.length > 1) {
      // Try the other candidate next time.
      user.passwords.push(user.passwords.shift()!);
    }
  }

  async #refresh(client: number, node: number, session: Session, random: Random): Promise<void> {
    const newest = session.refresh[session.refresh.length - 1];
    const user = this.users.find((u) => u.id === newest?.user);
    if (newest === undefined || user === undefined) return;
    if (random.chance(0.06) && session.refresh.length > 1) {
      // Replay an older refresh token: the server must answer refresh_reused and revoke the session.
      const old = random.pick(session.refresh.slice(0, -1));
      const answer = await this.#call(client, node, "refresh", "POST", "/token/refresh", {
        body: { refresh: old.raw },
        token: old.id,
        session: old.session,
      });
      if (answer.status === 401 && answer.code === "refresh_reused") await this.#probe(client, session.access.slice(-2));
      return;
    }
    if (random.chance(0.08)) {
      // The same refresh token on two nodes at once: at most one may succeed.
      const other = (node + 1 + random.int(this.target.nodes - 1)) % this.target.nodes;
      const answers = await Promise.all(
        [node, other].map((n) =>
          this.#call(client, n, "refresh", "POST", "/token/refresh", {
            body: { refresh: newest.raw },
            token: newest.id,
            session: newest.session,
          }),
        ),
      );
      for (const a of answers) if (a.status === 200) this.#keep(user, a);
      if (answers.some((a) => a.code === "refresh_reused")) await this.#probe(client, session.access.slice(-2));
      return;
    }
    const answer = await this.#call(client, node, "refresh", "POST", "/token/refresh", {
      body: { refresh: newest.raw },
      token: newest.id,
      session: newest.session,
    });
    if (answer.status === 200) this.#keep(user, answer);
  }

  async #changePassword(client: number, node: number, user: User, token: Access): Promise<void> {
    const current = user.passwords[0]!;
    const next = newPassword();
    const answer = await this.#bearer(client, node, "password_change", "POST", "/password", token, {
      current_password: current,
      new_password: next,
    });
    if (answer.status === 200) {
      user.passwords = [next];
      for (const s of user.sessions.values()) if (s.id !== token.session && s.created < answer.start) s.dead = true;
      this.#keep(user, answer);
      await this.#probe(
        client,
        this.#tokensOf(user, (t, s) => t.at < answer.start && (s.id !== token.session || t.version < answer.access!.version)),
      );
    } else if (answer.status === null || answer.status >= 500) {
      user.passwords = [current, next];
    } else if (answer.status === 403 && user.passwords.length > 1) user.passwords.push(user.passwords.shift()!);
  }

  async #bearer(
    client: number,
    node: number,
    type: OpType,
    method: string,
    path: string,
    token: Access,
    body?: unknown,
    extra: { target?: string } = {},
  ) {
    return this.#call(client, node, type, method, path, {
      token: token.id,
      raw: token.raw,
      session: token.session,
      ...(body === undefined ? {} : { body }),
      ...extra,
    });
  }

  /** Makes one request and records it; returns the answer with the tokens it issued, named. */
  async #call(
    client: number,
    node: number,
    type: OpType,
    method: string,
    path: string,
    input: {
      body?: unknown;
      token?: string;
      raw?: string;
      target?: string;
      user?: string;
      session?: string;
      link?: string;
      linkOp?: number;
    },
  ): Promise<Answer & { id: number; start: number; end: number; access?: Access; refresh?: Refresh }> {
    const headers: Record<string, string> = {};
    if (input.raw !== undefined) headers.authorization = `Bearer ${input.raw}`;
    if (input.body !== undefined) headers["content-type"] = "application/json";
    const start = this.options.now();
    const promise = request(this.target.url(node) + path, method, headers, input.body, this.options.requestTimeoutMs);
    this.#inFlight.add(promise);
    const answer = await promise;
    this.#inFlight.delete(promise);
    const end = this.options.now();
    const op: Operation = { id: ++this.#nextOp, client, type, node, start, end, status: answer.status };
    if (input.token !== undefined) op.token = input.token;
    if (input.target !== undefined) op.target = input.target;
    if (input.user !== undefined) op.user = input.user;
    if (input.link !== undefined) op.link = input.link;
    if (input.linkOp !== undefined) op.linkOp = input.linkOp;
    if (answer.code !== undefined) op.code = answer.code;
    if (answer.error !== undefined) op.error = answer.error;
    const issued: IssuedToken[] = [];
    let access: Access | undefined;
    let refresh: Refresh | undefined;
    const b = answer.body;
    if (answer.status !== null && answer.status < 300 && b && typeof b === "object") {
      if (typeof b.access === "string") {
        const claims = claimsOf(b.access);
        const kid = headerOf(b.access).kid;
        const n = ++this.#nextToken;
        const [user, session, version] = [String(claims.sub), String(claims.sid), Number(claims.token_version)];
        issued.push({ id: `a${n}`, kind: "access", user, session, version, ...(typeof kid === "string" ? { kid } : {}) });
        access = { id: `a${n}`, raw: b.access, user, session, version, at: end, ...(typeof kid === "string" ? { kid } : {}) };
        if (typeof kid === "string") this.#lastKid = kid;
        if (typeof b.refresh === "string") {
          issued.push({ id: `r${n}`, kind: "refresh", user, session });
          refresh = { id: `r${n}`, raw: b.refresh, user, session };
        }
      }
      const version = b.user?.token_version ?? (type === "profile" || type === "email_confirm" ? b.token_version : undefined);
      if (Number.isInteger(version)) op.version = version;
      if (type === "register" && typeof b.user?.id === "string") op.user = b.user.id;
    }
    if (issued.length > 0) op.issued = issued;
    this.options.record(op);
    if (answer.error === "ECONNREFUSED") this.#downUntil[node] = end + 1_000;
    if (input.session !== undefined && answer.status === 401 && (answer.code === "token_revoked" || answer.code === "refresh_reused")) {
      const session = this.#sessions.get(input.session);
      if (session !== undefined) session.dead = true;
    }
    if (input.session !== undefined && input.raw !== undefined && answer.status === 401 && answer.code === "token_invalid") {
      // Its key was revoked (or its account deleted): forget it, so the session refreshes; read it again at the end.
      const session = this.#sessions.get(input.session);
      const index = session?.access.findIndex((t) => t.id === input.token) ?? -1;
      if (session !== undefined && index !== -1) {
        this.#keyRevoked.push(...session.access.splice(index, 1));
        if (this.#keyRevoked.length > 200) this.#keyRevoked.shift();
      }
    }
    return { ...answer, id: op.id, start, end, ...(access ? { access } : {}), ...(refresh ? { refresh } : {}) };
  }

  /** Keeps the tokens an answer carried (raw values stay in memory, never in the history). */
  #keep(user: User, answer: { access?: Access; refresh?: Refresh; end: number }): void {
    if (answer.access === undefined) return;
    let session = user.sessions.get(answer.access.session);
    if (session === undefined) {
      session = { id: answer.access.session, created: answer.end, dead: false, access: [], refresh: [] };
      user.sessions.set(session.id, session);
      this.#sessions.set(session.id, session);
      // Forget the oldest sessions (most are revoked by now): a Map iterates in insertion order.
      while (user.sessions.size > MAX_SESSIONS_PER_USER) {
        const oldest = user.sessions.keys().next().value!;
        user.sessions.delete(oldest);
        this.#sessions.delete(oldest);
      }
    }
    session.access.push(answer.access);
    if (session.access.length > MAX_TOKENS_PER_SESSION) session.access.shift();
    if (answer.refresh !== undefined) {
      session.refresh.push(answer.refresh);
      if (session.refresh.length > MAX_TOKENS_PER_SESSION) session.refresh.shift();
    }
  }
}

function newPassword(): string {
  return `campaign ${randomBytes(9).toString("base64url")} passphrase`;
}

/** The current TOTP code, unless one of this time step was sent already (it would be refused: no replay). */
function nextTotp(mfa: { secret: string; step?: number }): string | undefined {
  const now = Date.now();
  const step = Math.floor(now / 30_000);
  if (mfa.step !== undefined && step <= mfa.step) return undefined;
  mfa.step = step;
  return totpAt(mfa.secret, now);
}

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function request(url: string, method: string, headers: Record<string, string>, body: unknown, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: any;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const answer: Answer = { status: response.status, body: parsed };
    if (response.status >= 400 && typeof parsed?.code === "string") answer.code = parsed.code;
    return answer;
  } catch (error) {
    const e = error as { name?: string; cause?: { code?: string } };
    const reason = e.name === "TimeoutError" || e.name === "AbortError" ? "timeout" : (e.cause?.code ?? e.name ?? "error");
    return { status: null, error: String(reason) };
  }
}
