/**
 * What the servers and the load are given: the seeded SQLite files (one per server process), a
 * sample of seeded sessions, their access tokens and the e-mail addresses the login storm uses.
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyMaterial, publicPemOf } from "../src/core/keys/material.js";
import { createAccessTokenSigner, secretKeys, type TokenKey, type TokenKeys } from "../src/core/tokens/access-token.js";
import { ACCESS_TTL, SECRET } from "./constants.js";
import { seedSqlite, sessionId, userEmail, userId, type SeedSpec } from "./seed.js";

export interface SqliteFiles {
  /** The example app's (or, without it, the bench app's) database. */
  app: string;
  /** The CLI server's copy. */
  cli: string;
  /** The bench app's copy, when the example app has the first file. */
  bench: string;
  /** The prepared-read ceiling's copy (bench/prepared-read-server.ts). */
  ceiling: string;
}

/**
 * Seeds one SQLite file and copies it: the CLI server and the embedded app each own a database
 * file, one writer per file, so each process's local cache is exact (the storm's logins write to
 * the app's file only).
 */
export async function seedSqliteFiles(dir: string, spec: SeedSpec, log: (message: string) => void): Promise<SqliteFiles> {
  const started = Date.now();
  const app = join(dir, "bench.db");
  await seedSqlite(app, spec);
  const cli = join(dir, "bench-cli.db");
  copyFileSync(app, cli);
  const bench = join(dir, "bench-app.db");
  copyFileSync(app, bench);
  const ceiling = join(dir, "bench-ceiling.db");
  copyFileSync(app, ceiling);
  log(`seeded SQLite in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return { app, cli, bench, ceiling };
}

/** A random sample of session indices (with their users), so load spreads over many sessions. */
export function sampleSessions(users: number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(Math.random() * 2 * users));
  return [...picked];
}

/** An asymmetric signing key of a case (docs/api.md section 7): given to its server as TOKENVER_SIGNING_KEY. */
export interface BenchKey {
  alg: "EdDSA" | "ES256";
  kid: string;
  /** The private key, PKCS#8 PEM. */
  pem: string;
}

export async function benchKey(alg: BenchKey["alg"]): Promise<BenchKey> {
  const material = await generateKeyMaterial(alg);
  return { alg, kid: material.kid, pem: material.secretText };
}

/** Access tokens of the seeded sessions: HS256 under the bench secret, or signed by `key` (its kid in the header). */
export function mintTokens(sessions: number[], key?: BenchKey): string[] {
  let keys: TokenKeys | undefined;
  if (key !== undefined) {
    const one: TokenKey = { kid: key.kid, alg: key.alg, signKey: key.pem, verifyKey: publicPemOf(key.pem) };
    keys = { signing: () => one, find: (kid) => (kid === key.kid ? one : undefined) };
  }
  const sign = createAccessTokenSigner({
    // HS256: the server secret's key, named by the kid every node derives from the secret.
    keys: keys ?? secretKeys(SECRET),
    issuer: "tokenver",
    ttl: ACCESS_TTL,
    clockTolerance: 5,
    clock: Date.now,
  });
  return sessions.map((k) => sign(userId(Math.floor(k / 2)), sessionId(k), 0));
}

/** The token list the load generator cycles through: JSON for autocannon, one per line for wrk. */
export function writeTokenFiles(files: { json: string; text: string }, sessions: number[], key?: BenchKey): void {
  const tokens = mintTokens(sessions, key);
  writeFileSync(files.json, JSON.stringify(tokens));
  writeFileSync(files.text, `${tokens.join("\n")}\n`);
}

/**
 * Writes the token list the load generator cycles through (JSON for autocannon, one per line for
 * wrk) and the e-mails the storm and the login measurement log in with.
 */
export function writeLoadFiles(files: { tokensFile: string; tokensText: string; emailsFile: string }, sessions: number[]): void {
  writeTokenFiles({ json: files.tokensFile, text: files.tokensText }, sessions);
  writeFileSync(files.emailsFile, JSON.stringify(sessions.slice(0, 5000).map((k) => userEmail(Math.floor(k / 2)))));
}
