/**
 * Memory of the caches a node keeps per session, measured in a process of its own (run with
 * --expose-gc): the node revocation cache (store/revocation/local-cache.ts) holding 100,000
 * sessions of 50,000 users, as the seed pairs them, each answered once (so its resolved answer is
 * kept too); and the verified-token cache (core/tokens/access-token.ts) full with its 20,000 tokens.
 * Heap after a full GC, before and after filling. Prints one JSON line.
 *
 * Usage: node --expose-gc --import tsx bench/memory.ts [sessions=100000]
 */
import { randomUUID } from "node:crypto";
import { createAccessTokenSigner, createAccessTokenVerifier, VERIFIED_TOKEN_CACHE_SIZE } from "../src/core/tokens/access-token.js";
import { LocalRevocationCache } from "../src/store/revocation/local-cache.js";
import type { RevocationState, SessionState } from "../src/store/revocation/state.js";
import { SECRET } from "./constants.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");
const sessions = Number(process.argv[2] ?? 100_000);

function heap(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

// The same id shapes as the seed (UUID strings); a user's two sessions share the user id string.
// The strings are the keys the caches keep alive (in a server they come from the token's claims).
// Flat strings, as JSON.parse makes them from a token's payload.
const usersJson = JSON.stringify(Array.from({ length: sessions / 2 }, () => randomUUID()));
const sessionsJson = JSON.stringify(Array.from({ length: sessions }, () => randomUUID()));
const beforeIds = heap();
const users = JSON.parse(usersJson) as string[];
const sessionIds = JSON.parse(sessionsJson) as string[];
const idBytes = heap() - beforeIds;
const inner: RevocationState = {
  get: async (sessionId: string): Promise<SessionState> => ({ userId: users[ownerOf.get(sessionId)!]!, tokenVersion: 0, revoked: false }),
  beforeRevoke: async () => Infinity,
  afterRevoke: async () => {},
  ping: async () => {},
  close: async () => {},
};
const ownerOf = new Map(sessionIds.map((id, k) => [id, k >> 1]));

const cache = new LocalRevocationCache(inner, { maxEntries: sessions });
const beforeCache = heap();
for (let k = 0; k < sessions; k++) await cache.get(sessionIds[k]!, users[k >> 1]!);
// A second get answers from memory and keeps the resolved answer on the entry.
for (let k = 0; k < sessions; k++) await cache.get(sessionIds[k]!, users[k >> 1]!);
const cacheBytes = heap() - beforeCache;

const config = { secret: SECRET, issuer: "tokenver", ttl: 3600, clockTolerance: 5, clock: Date.now };
const sign = createAccessTokenSigner(config);
const tokensJson = JSON.stringify(
  Array.from({ length: VERIFIED_TOKEN_CACHE_SIZE }, (_, k) => sign(users[k % users.length]!, sessionIds[k]!, 0)),
);
const verify = createAccessTokenVerifier(config);
verify(sign(users[0]!, sessionIds[0]!, 0));
// The token strings and the cache together: the cache keeps each string as its key.
const beforeTokens = heap();
const tokens = JSON.parse(tokensJson) as string[];
for (const token of tokens) verify(token);
const tokenBytes = heap() - beforeTokens;

process.stdout.write(
  `${JSON.stringify({
    sessions,
    revocationCacheBytes: cacheBytes,
    /** The session and user id strings it keeps (and the arrays that held them here, 8 bytes an element). */
    idStringBytes: idBytes,
    revocationCacheBytesPerSession: (cacheBytes + idBytes) / sessions,
    verifiedTokens: VERIFIED_TOKEN_CACHE_SIZE,
    /** With the token strings (about 330 characters each). */
    verifiedTokenCacheBytes: tokenBytes,
    verifiedTokenBytesPerToken: tokenBytes / VERIFIED_TOKEN_CACHE_SIZE,
  })}\n`,
);
// Keep both alive until measured.
if (cache === undefined || verify === undefined) process.exit(1);
