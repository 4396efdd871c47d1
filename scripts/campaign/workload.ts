import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { IssuedToken, Operation, OpType } from "./history.js";
import { Random } from "./random.js";

/**
 * The clients: each loops over random operations on random nodes against a pool of users that all
 * clients share (so operations on one user overlap across clients and nodes), and records every
 * operation (history.ts). Right after a revocation returns, the client reads the tokens it revoked
 * on every node at once: the moment a stale node would show.
 */

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
}

interface Access {
  id: string;
  raw: string;
  user: string;
  session: string;
  version: number;
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
}

interface Answer {
  status: number | null;
  body?: any;
  code?: string;
  error?: string;
}

const WEIGHTS: Record<OpType, number> = {
  profile: 34,
  refresh: 16,
  login: 9,
  logout_session: 6,
  logout_all: 4,
  password_change: 3,
  session_delete: 5,
  sessions_list: 3,
  register: 1,
};

const MAX_SESSIONS_PER_USER = 12;
const MAX_TOKENS_PER_SESSION = 6;

export class Workload {
  readonly users: User[] = [];
  readonly #sessions = new Map<string, Session>();
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
    let type = random.weighted(WEIGHTS);
    if (type === "register" && this.users.length >= this.options.maxUsers) type = "login";
    if (type === "register" || this.users.length === 0) return void (await this.#register(client, node));
    const user = random.pick(this.users);
    if (type === "login") return void (await this.#login(client, node, user));
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
    const tokens = this.users.flatMap((u) => [...u.sessions.values()].flatMap((s) => s.access));
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
    input: { body?: unknown; token?: string; raw?: string; target?: string; user?: string; session?: string },
  ): Promise<Answer & { start: number; end: number; access?: Access; refresh?: Refresh }> {
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
    if (answer.code !== undefined) op.code = answer.code;
    if (answer.error !== undefined) op.error = answer.error;
    const issued: IssuedToken[] = [];
    let access: Access | undefined;
    let refresh: Refresh | undefined;
    const b = answer.body;
    if (answer.status !== null && answer.status < 300 && b && typeof b === "object") {
      if (typeof b.access === "string") {
        const claims = claimsOf(b.access);
        const n = ++this.#nextToken;
        const [user, session, version] = [String(claims.sub), String(claims.sid), Number(claims.token_version)];
        issued.push({ id: `a${n}`, kind: "access", user, session, version });
        access = { id: `a${n}`, raw: b.access, user, session, version, at: end };
        if (typeof b.refresh === "string") {
          issued.push({ id: `r${n}`, kind: "refresh", user, session });
          refresh = { id: `r${n}`, raw: b.refresh, user, session };
        }
      }
      const version = b.user?.token_version ?? (type === "profile" ? b.token_version : undefined);
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
    return { ...answer, start, end, ...(access ? { access } : {}), ...(refresh ? { refresh } : {}) };
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
