import {
  sql,
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PostgresPool,
  type PostgresPoolClient,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from "kysely";
import { isDeepStrictEqual } from "node:util";
import pg from "pg";

/**
 * Since migration 0013 tokenver's PostgreSQL timestamps are `timestamptz` and the custom user
 * fields `jsonb`; everything above the store still sees what it saw when they were text: an
 * instant as `isoAt` writes it (`2026-01-02T03:04:05.678Z`, milliseconds always) and the fields
 * as JSON text. pg's own parsers would give a `Date` and a parsed object, so tokenver's queries
 * are typed here, never through pg's global parsers (`pg.types.setTypeParser`), which belong to
 * the application:
 * - tokenver's own pool is created with `PG_TYPES` (database.ts);
 * - an application's pg Pool is used through `withPgTypes`, which passes `PG_TYPES` with each of
 *   tokenver's queries, and the named prepared read of GET /profile passes it too
 *   (queries/user-row.ts);
 * - an application's Kysely instance hides its pool, so its results are converted back by
 *   `PgResultPlugin` (a `Date` to `isoAt`, a parsed jsonb value to JSON text), and
 *   `checkResultTypes` refuses at start-up a connection whose parsers make that inexact.
 */

/** An instant as core/clock.ts's `isoAt` writes it (the store does not import the core). */
const isoAt = (ms: number): string => new Date(ms).toISOString();

/** pg's type OIDs (`SELECT oid FROM pg_type WHERE typname IN ('timestamptz', 'jsonb')`). */
export const TIMESTAMPTZ_OID = 1184;
export const JSONB_OID = 3802;

/**
 * `timestamptz` as PostgreSQL writes it with DateStyle ISO (the default): `2026-01-02
 * 03:04:05.678+00`, fraction optional (up to microseconds), offset `+hh`, `+hh:mm` or `+hh:mm:ss`,
 * ` BC` for years before 1.
 */
const PG_TIMESTAMPTZ = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?( BC)?$/;

/** A timestamptz tokenver cannot read: the query fails (503 where a request made it), never open. */
export class TimestampFormatError extends Error {
  constructor() {
    super("tokenver: PostgreSQL wrote a timestamptz in a form tokenver does not read (is DateStyle ISO, the default?)");
  }
}

/**
 * A `timestamptz` in tokenver's format. Fractions below the millisecond are cut (tokenver writes
 * milliseconds only). Text of another form (`infinity`, a DateStyle other than ISO) throws: pg then
 * fails the query. Returned as it was, it would compare wrongly with tokenver's ISO strings
 * (`"Fri Jan 02 ..." <= "2026-..."` is false: an expired refresh token would pass).
 */
export function timestamptzToIso(text: string): string {
  const m = PG_TIMESTAMPTZ.exec(text);
  if (m === null) throw new TimestampFormatError();
  const year = m[12] === undefined ? Number(m[1]) : 1 - Number(m[1]);
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), Number((m[7] ?? "").padEnd(3, "0").slice(0, 3)));
  const offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
  const ms = date.getTime() - (m[8] === "-" ? -1 : 1) * offsetSeconds * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new TimestampFormatError();
  return isoAt(ms);
}

/** jsonb as its text (PostgreSQL's spelling of it: keys reordered, `": "` and `", "` spaced). */
const jsonbText = (text: string): string => text;

type TextParser = (text: string) => unknown;

/**
 * The type parsers of tokenver's queries: timestamptz and jsonb as above, every other type as
 * pg's defaults (read, never changed, from `pg.types`).
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (format !== "binary") {
      if (oid === TIMESTAMPTZ_OID) return timestamptzToIso;
      if (oid === JSONB_OID) return jsonbText;
    }
    return (pg.types.getTypeParser as (oid: number, format?: string) => TextParser)(oid, format);
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * The application's pool, with `PG_TYPES` on each of tokenver's queries: the pool itself, its
 * clients and pg's global parsers are left as they are. One wrapper per pooled client (Kysely
 * keys its connections by client). A cursor (streaming, which tokenver does not use) is passed
 * through as it is.
 */
export function withPgTypes(pool: PostgresPool): PostgresPool {
  const wrapped = new WeakMap<PostgresPoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let typed = wrapped.get(client);
      if (typed === undefined) {
        typed = typedClient(client);
        wrapped.set(client, typed);
      }
      return typed;
    },
    end: () => pool.end(),
  };
}

function typedClient(client: PostgresPoolClient): PostgresPoolClient {
  // pg's client.query also takes a query config ({ text, values, types }); Kysely's type names
  // only the (sql, parameters) and cursor forms.
  const query = client.query.bind(client) as (config: unknown, parameters?: ReadonlyArray<unknown>) => unknown;
  return {
    query: ((text: unknown, parameters?: ReadonlyArray<unknown>) =>
      typeof text === "string" ? query({ text, values: parameters, types: PG_TYPES }) : query(text)) as PostgresPoolClient["query"],
    release: (destroy?: boolean) => client.release(destroy),
  };
}

/**
 * For an application's Kysely instance (whose pool is out of reach): each result row's `Date`
 * values back to `isoAt` strings, and its objects and arrays (parsed jsonb) back to JSON text.
 * Exact with pg's default parsers: a `Date` holds milliseconds, as tokenver writes them, and a
 * custom-field value round-trips through JSON (tokenver stored it with JSON.stringify).
 */
export class PgResultPlugin implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const rows = args.result.rows;
    for (let i = 0; i < rows.length; i++) {
      const converted = asStored(rows[i]!);
      if (converted !== rows[i]) return { ...args.result, rows: rows.map(asStored) };
    }
    return args.result;
  }
}

function asStored(row: UnknownRow): UnknownRow {
  let out: UnknownRow | undefined;
  for (const key of Object.keys(row)) {
    const value = row[key];
    if (value === null || typeof value !== "object") continue;
    // Only what tokenver's columns hold: a Date (timestamptz) and the custom fields (jsonb,
    // `profile`); an object another parser of the application makes (a decimal) stays as it is.
    if (!(value instanceof Date) && key !== "profile") continue;
    out ??= { ...row };
    out[key] = value instanceof Date ? (Number.isFinite(value.getTime()) ? isoAt(value.getTime()) : String(value)) : JSON.stringify(value);
  }
  return out ?? row;
}

const PROBE_AT = "2001-02-03T04:05:06.789Z";
const PROBE_FIELDS = { nickname: "x", tags: ["a", 1, true, null], nested: { k: 1.5 } };

/**
 * Whether `db` reads a timestamptz and a jsonb value back exactly as tokenver needs them; the
 * reason when it does not (an application's Kysely instance whose pool has parsers of its own, a
 * connection whose DateStyle is not ISO). Run at start-up on every PostgreSQL store.
 */
export async function checkResultTypes(db: Kysely<any>): Promise<string | undefined> {
  let result;
  try {
    // Named as tokenver's columns are: the result plugin converts a Date anywhere, jsonb in `profile`.
    result = await sql<{
      at: unknown;
      profile: unknown;
    }>`select ${PROBE_AT}::timestamptz as at, ${JSON.stringify(PROBE_FIELDS)}::jsonb as profile`.execute(db);
  } catch (error) {
    if (error instanceof TimestampFormatError) return "writes timestamptz in a form other than DateStyle ISO";
    throw error;
  }
  const row = result.rows[0];
  if (row?.at !== PROBE_AT) return `reads timestamptz ${PROBE_AT} back as ${JSON.stringify(row?.at)}`;
  let fields: unknown;
  try {
    fields = typeof row.profile === "string" ? JSON.parse(row.profile) : undefined;
  } catch {
    fields = undefined;
  }
  if (!isDeepStrictEqual(fields, PROBE_FIELDS))
    return `reads jsonb back as ${typeof row.profile === "string" ? row.profile : typeof row.profile}`;
  return undefined;
}
