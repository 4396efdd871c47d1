/**
 * What went wrong when the database was opened or migrated, in words that complete
 * "databaseUrl ..." (the library's OptionError and the CLI's one line both show it). Every
 * failure used to read "did not answer or is not a tokenver database", which sent an operator
 * with a refused connection, a missing database or an application's own `users` table the
 * wrong way.
 *
 * Never the URL, a user name or a password: the host and port come from the parsed URL, the
 * database's own words (PostgreSQL's server messages, SQLite's) are quoted only for errors the
 * server raised, which name objects, not credentials.
 */
export function describeDatabaseError(error: unknown, url: string): string {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; errors?: unknown[] };
  const code = typeof e.code === "string" ? e.code : undefined;
  const serverMessage = typeof e.message === "string" ? e.message.split("\n")[0]!.slice(0, 200) : "";
  const where = placeOf(url);
  // AggregateError: node tried each address of the host (IPv4 and IPv6); the first tells enough.
  if (code === undefined && Array.isArray(e.errors) && e.errors.length > 0) return describeDatabaseError(e.errors[0], url);
  switch (code) {
    case "ECONNREFUSED":
      return `could not be opened: the connection to ${where} was refused (is the server running, on that port?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `could not be opened: the host of ${where} was not found`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `could not be opened: ${where} did not answer`;
    // PostgreSQL SQLSTATEs (server messages name the database, role or object, never a password).
    case "3D000":
      return `could not be opened: ${serverMessage} (create it first, or point the URL at an existing database)`;
    case "28P01":
    case "28000":
      return `could not be opened: the server refused the credentials (${serverMessage})`;
    case "42501":
      return `could not be used: permission denied (${serverMessage}); the role needs to create tables in its schema, or run tokenver migrate as a role that may`;
    case "42P07":
    case "42710":
      return `holds a table tokenver would create, and it is not tokenver's (${serverMessage}): give tokenver a table prefix (tablePrefix, TOKENVER_TABLE_PREFIX), a schema of its own on PostgreSQL (schema, TOKENVER_DATABASE_SCHEMA) or a database of its own`;
    case "42P01":
      return `is not a tokenver database yet (${serverMessage}): run tokenver migrate, or start with migrations on`;
    case "SQLITE_NOTADB":
      return "is not a SQLite database (the file exists but holds something else)";
    case "SQLITE_CANTOPEN":
    case "EACCES":
    case "EPERM":
      return "could not be opened: the file or its directory cannot be created or read (check the path and its permissions)";
    case "SQLITE_READONLY":
      return "could not be used: the SQLite file is read-only";
  }
  if (code === "SQLITE_ERROR" && /already exists/.test(serverMessage)) {
    return `holds a table tokenver would create, and it is not tokenver's (${serverMessage}): give tokenver a table prefix (tablePrefix, TOKENVER_TABLE_PREFIX), a schema of its own on PostgreSQL (schema, TOKENVER_DATABASE_SCHEMA) or a database of its own`;
  }
  if (code === "SQLITE_ERROR" && /no such table/.test(serverMessage)) {
    return `is not a tokenver database yet (${serverMessage}): run tokenver migrate, or start with migrations on`;
  }
  if (/timeout/i.test(serverMessage)) return `could not be opened: ${where} did not answer in time`;
  return `could not be opened: the database failed${code === undefined ? "" : ` with ${code}`}`;
}

/** `host:port` of a PostgreSQL URL, or `the SQLite file`: nothing of the credentials. */
function placeOf(url: string): string {
  if (url.startsWith("sqlite:")) return "the SQLite file";
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
  } catch {
    return "the database server";
  }
}
