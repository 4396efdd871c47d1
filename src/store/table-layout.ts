import {
  IdentifierNode,
  OperationNodeTransformer,
  SchemableIdentifierNode,
  type CreateIndexNode,
  type DropIndexNode,
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from "kysely";
import type { Database } from "./schema.js";

/**
 * Where tokenver's tables live in a database it shares with an application: a prefix on every
 * table and index name (both dialects: `auth_` gives `auth_users`, `auth_sessions_user_id`, ...),
 * and on PostgreSQL a schema of their own (created if missing). The default, no prefix and no
 * schema, is what every earlier release created: unqualified names, in the connection's
 * `search_path` (normally `public`).
 *
 * Both are SQL identifiers checked at registration (settings/rows/database.ts), so the names
 * below never need escaping; they are quoted all the same (a schema called `user` is a keyword).
 */
export interface TableLayout {
  readonly prefix: string;
  readonly schema?: string | undefined;
}

export const DEFAULT_LAYOUT: TableLayout = Object.freeze({ prefix: "" });

/** Every table tokenver creates (the compiler keeps it equal to schema.ts's `Database`). */
const TABLES = {
  users: true,
  sessions: true,
  refresh_tokens: true,
  tokenver_meta: true,
  mail_outbox: true,
  tokenver_events: true,
  tokenver_webhook_outbox: true,
  tokenver_webhook_dead_letters: true,
  tokenver_webhook_endpoints: true,
  tokenver_leases: true,
  tokenver_totp: true,
  tokenver_recovery_codes: true,
  tokenver_mfa_challenges: true,
  tokenver_links: true,
  tokenver_signing_keys: true,
  tokenver_revoked_keys: true,
  tokenver_clients: true,
} as const satisfies Record<keyof Database, true>;

const TABLE_NAMES: ReadonlySet<string> = new Set(Object.keys(TABLES));

/** Kysely's migration bookkeeping (store/migrations/index.ts): prefixed too, and in the schema. */
export const MIGRATION_TABLE = "tokenver_migration";
export const MIGRATION_LOCK_TABLE = "tokenver_migration_lock";

export function isDefaultLayout(layout: TableLayout): boolean {
  return layout.prefix === "" && layout.schema === undefined;
}

/** The name a table of tokenver's (or its migration bookkeeping) has in the database, unqualified. */
export function tableName(layout: TableLayout, table: keyof Database | typeof MIGRATION_TABLE | typeof MIGRATION_LOCK_TABLE): string {
  return layout.prefix + table;
}

/** Whether `name` (unqualified, as the database lists it) is one of tokenver's tables in this layout. */
export function isTokenverTable(layout: TableLayout, name: string): boolean {
  if (!name.startsWith(layout.prefix)) return false;
  const bare = name.slice(layout.prefix.length);
  return TABLE_NAMES.has(bare) || bare === MIGRATION_TABLE || bare === MIGRATION_LOCK_TABLE;
}

/**
 * Rewrites tokenver's table names in every query of the handle it is installed on: each
 * reference to one of the tables of `Database` (in FROM, JOIN, INTO, REFERENCES, a qualified
 * column, `sql.table()`) gets the prefix and the schema, and each index name the prefix (indexes
 * share the tables' namespace: SQLite's whole file, a PostgreSQL schema). Aliases (`users as u`)
 * and names that are not tokenver's are left alone.
 *
 * Installed only for a layout other than the default (store/database.ts), so the default costs
 * nothing. Statements written as text (`sql\`...\`` with a table name inside, CompiledQuery.raw)
 * are not rewritten: there are none left on a path that names a table; the hot reads compile
 * their statement once through the query builder, so through this plugin (queries/user-row.ts,
 * revocation/database-state.ts).
 */
export class TableLayoutPlugin implements KyselyPlugin {
  readonly #transformer: LayoutTransformer;

  constructor(layout: TableLayout) {
    this.#transformer = new LayoutTransformer(layout);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

class LayoutTransformer extends OperationNodeTransformer {
  readonly #prefix: string;
  readonly #schema: string | undefined;

  constructor(layout: TableLayout) {
    super();
    this.#prefix = layout.prefix;
    this.#schema = layout.schema;
  }

  #place(name: string): SchemableIdentifierNode {
    const placed = this.#prefix + name;
    return this.#schema === undefined
      ? SchemableIdentifierNode.create(placed)
      : SchemableIdentifierNode.createWithSchema(this.#schema, placed);
  }

  protected override transformSchemableIdentifier(node: SchemableIdentifierNode, queryId?: QueryId): SchemableIdentifierNode {
    const transformed = super.transformSchemableIdentifier(node, queryId);
    if (transformed.schema !== undefined || !TABLE_NAMES.has(transformed.identifier.name)) return transformed;
    return this.#place(transformed.identifier.name);
  }

  /** `CREATE INDEX name ON table`: the name is unqualified (PostgreSQL puts it in the table's schema). */
  protected override transformCreateIndex(node: CreateIndexNode, queryId?: QueryId): CreateIndexNode {
    const transformed = super.transformCreateIndex(node, queryId);
    return { ...transformed, name: IdentifierNode.create(this.#prefix + transformed.name.name) };
  }

  /** `DROP INDEX name`: qualified by the schema on PostgreSQL, where an index is found by its schema. */
  protected override transformDropIndex(node: DropIndexNode, queryId?: QueryId): DropIndexNode {
    const transformed = super.transformDropIndex(node, queryId);
    if (transformed.name.schema !== undefined) return transformed;
    return { ...transformed, name: this.#place(transformed.name.identifier.name) };
  }
}

/** The handle with tokenver's tables where `layout` puts them (the same handle for the default). */
export function withLayout<DB>(db: Kysely<DB>, layout: TableLayout): Kysely<DB> {
  return isDefaultLayout(layout) ? db : db.withPlugin(new TableLayoutPlugin(layout));
}
