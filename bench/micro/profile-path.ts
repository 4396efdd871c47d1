/**
 * Micro-measurements of the GET /profile path, in process, one stage at a time: the user-row read
 * (Kysely's builder, a precompiled query through Kysely, a prepared statement; on PostgreSQL also
 * pg's named prepared statement through the pool), `toUser`, the wire view, and serialisation by
 * the response schema (fast-json-stringify, as Fastify does) against JSON.stringify.
 *
 * Usage: node --import tsx bench/micro/profile-path.ts [--pg URL] [--iterations N]
 * Prints µs per call (median of 5 batches). Sequential: SQLite figures are CPU; PostgreSQL figures
 * are the round trip one at a time and, with 10 in flight, the client's CPU per query.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import fastJson from "fast-json-stringify";
import { CompiledQuery } from "kysely";
import pg from "pg";
import { Type } from "typebox";
import { toUser } from "../../src/core/accounts/user.js";
import { userSchema } from "../../src/http/schemas.js";
import { userView } from "../../src/http/wire.js";
import { openStore } from "../../src/store/database.js";
import { findUserById } from "../../src/store/queries/users.js";
import { PG_TYPES } from "../../src/store/pg-types.js";
import { createUserRowReader, USER_ROW_SQL } from "../../src/store/queries/user-row.js";
import { seedPostgres, seedSqlite, userId } from "../seed.js";
import { reachablePostgres, withAdmin } from "../services.js";
import { median } from "../stats.js";

const { values } = parseArgs({ options: { pg: { type: "string" }, iterations: { type: "string" } } });
const N = Number(values.iterations ?? 20_000);
const USERS = 2000;
const pgUrl = values.pg ?? process.env.TOKENVER_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const ids = Array.from({ length: USERS }, (_, i) => userId(i));
const FAKE_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

/**
 * CPU µs per call (user + system of this process, so neighbours on shared cores inflate it less
 * than wall time), sequentially; median of 5 batches after a warm-up batch.
 */
async function timeAsync(fn: (i: number) => Promise<unknown> | unknown, n = N): Promise<number> {
  const batch = async () => {
    const started = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn(i);
    const used = process.cpuUsage(started);
    return (used.user + used.system) / n;
  };
  await batch();
  const samples: number[] = [];
  for (let k = 0; k < 5; k++) samples.push(await batch());
  return median(samples);
}

/** Client CPU µs per call and calls/s with `inFlight` concurrent callers (PostgreSQL). */
async function timeConcurrent(
  fn: (i: number) => Promise<unknown>,
  n: number,
  inFlight = 10,
): Promise<{ cpuUs: number; perSecond: number }> {
  const run = async () => {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await fn(next++);
      }),
    );
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / n, perSecond: n / wall };
  };
  await run();
  const samples: { cpuUs: number; perSecond: number }[] = [];
  for (let k = 0; k < 5; k++) samples.push(await run());
  return { cpuUs: median(samples.map((s) => s.cpuUs)), perSecond: median(samples.map((s) => s.perSecond)) };
}

/** toUser as it was before (the spread): the "before" figure. */
function toUserBefore(row: {
  id: string;
  email: string;
  username: string | null;
  token_version: number;
  profile: string;
  created_at: string;
}) {
  const profile = JSON.parse(row.profile) as object;
  return {
    ...profile,
    id: row.id,
    email: row.email,
    username: row.username,
    tokenVersion: row.token_version,
    createdAt: row.created_at,
    role: "user" as const,
    disabled: false,
    mfaEnabled: false,
    recoveryCodesLeft: 0,
    emailVerified: true,
  };
}

const rows: [string, string][] = [];
const report = (name: string, figure: string) => {
  rows.push([name, figure]);
  process.stdout.write(`${name.padEnd(64)} ${figure}\n`);
};

const dir = mkdtempSync(join(tmpdir(), "tokenver-micro-"));
try {
  const file = join(dir, "micro.db");
  await seedSqlite(file, { users: USERS, passwordHash: FAKE_HASH, expiresAt: Date.now() + 86_400_000 });
  const store = await openStore(`sqlite:${file}`);
  const raw = `SELECT * FROM users WHERE id = ?`;
  const prepared = store.sqlite!.prepare(raw);
  const reader = createUserRowReader(store);
  const id = (i: number) => ids[i % USERS]!;

  report("SQLite: Kysely builder findUserById", `${(await timeAsync((i) => findUserById(store.db, id(i)))).toFixed(2)} µs`);
  report(
    "SQLite: Kysely executeQuery(CompiledQuery.raw)",
    `${(await timeAsync((i) => store.db.executeQuery(CompiledQuery.raw(raw, [id(i)])))).toFixed(2)} µs`,
  );
  report("SQLite: better-sqlite3 prepared SELECT * (sync)", `${(await timeAsync((i) => prepared.get(id(i)))).toFixed(2)} µs`);
  report("SQLite: user-row.ts reader (prepared, no hash column)", `${(await timeAsync((i) => reader(id(i)))).toFixed(2)} µs`);

  const row = (await findUserById(store.db, id(0)))!;
  const custom = { ...row, profile: JSON.stringify({ company: "Acme Corporation", newsletter: true }) };
  report(
    "toUser before (spread of the parsed profile), profile '{}'",
    `${(await timeAsync(() => toUserBefore(row), N * 10)).toFixed(3)} µs`,
  );
  report("toUser before, two custom fields", `${(await timeAsync(() => toUserBefore(custom), N * 10)).toFixed(3)} µs`);
  report("toUser (profile '{}')", `${(await timeAsync(() => toUser(row), N * 10)).toFixed(3)} µs`);
  report("toUser (two custom fields)", `${(await timeAsync(() => toUser(custom), N * 10)).toFixed(3)} µs`);
  const profile = Type.Object({ company: Type.String(), newsletter: Type.Optional(Type.Boolean()) });
  const view = userView(profile);
  const user = toUser(custom);
  report("userView (wire conversion)", `${(await timeAsync(() => view(user), N * 10)).toFixed(3)} µs`);
  const wire = view(user);
  const stringify = fastJson(userSchema(profile) as object);
  report("serialise: fast-json-stringify by the response schema", `${(await timeAsync(() => stringify(wire), N * 10)).toFixed(3)} µs`);
  report("serialise: JSON.stringify", `${(await timeAsync(() => JSON.stringify(wire), N * 10)).toFixed(3)} µs`);
  // The whole route body after authentication, before and after: read, toUser, wire view, serialise.
  const emptyProfile = Type.Object({});
  const plainView = userView(emptyProfile);
  const plainStringify = fastJson(userSchema(emptyProfile) as object);
  report(
    "/profile body before: builder read + spread toUser + view + serialise",
    `${(await timeAsync(async (i) => plainStringify(plainView(toUserBefore((await findUserById(store.db, id(i)))!))))).toFixed(2)} µs`,
  );
  report(
    "/profile body after: prepared read + toUser + view + serialise",
    `${(await timeAsync(async (i) => plainStringify(plainView(toUser((await reader(id(i)))!))))).toFixed(2)} µs`,
  );
  await store.close();

  const pgProblem = await reachablePostgres(pgUrl);
  if (pgProblem !== undefined) {
    report("PostgreSQL", `skipped: ${pgProblem}`);
  } else {
    const name = `tokenver_micro_${process.pid}`;
    await withAdmin(pgUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    try {
      const url = new URL(pgUrl);
      url.pathname = `/${name}`;
      await seedPostgres(url.toString(), { users: USERS, passwordHash: FAKE_HASH, expiresAt: Date.now() + 86_400_000 });
      const pgStore = await openStore(url.toString());
      // tokenver's parsers, as the store's pool has them: timestamptz and jsonb as text (store/pg-types.ts).
      const pool = new pg.Pool({ connectionString: url.toString(), max: 10, types: PG_TYPES });
      const pgReader = createUserRowReader(pgStore);
      // As getUser reads once the store exposes its pool (database.ts `pool`): a named prepared statement.
      const pgNamedReader = createUserRowReader({ ...pgStore, pool });
      const PG_SQL = USER_ROW_SQL("$1");
      const variants: [string, (i: number) => Promise<unknown>][] = [
        ["Kysely builder findUserById", (i) => findUserById(pgStore.db, id(i))],
        ["Kysely executeQuery(CompiledQuery.raw)", (i) => pgStore.db.executeQuery(CompiledQuery.raw(PG_SQL, [id(i)]))],
        ["user-row.ts reader, Kysely precompiled (store without pool)", (i) => pgReader(id(i))],
        ["user-row.ts reader, named statement (store with pool)", (i) => pgNamedReader(id(i))],
        ["pg pool.query unnamed", (i) => pool.query(PG_SQL, [id(i)])],
        ["pg pool.query named { name, text, values }", (i) => pool.query({ name: "tokenver_micro_user", text: PG_SQL, values: [id(i)] })],
      ];
      const n = Math.max(2000, N / 4);
      for (const [label, fn] of variants) {
        const oneByOne = await timeAsync(fn, n / 4);
        const concurrent = await timeConcurrent(fn, n);
        report(
          `PostgreSQL: ${label}`,
          `${oneByOne.toFixed(1)} µs round trip; 10 in flight: ${Math.round(concurrent.perSecond)}/s, client CPU ${concurrent.cpuUs.toFixed(1)} µs`,
        );
      }
      await pool.end();
      await pgStore.close();
    } finally {
      await withAdmin(pgUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
