/** Milliseconds since the epoch. Injected so expiry is tested without sleeping. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export const nowSeconds = (clock: Clock): number => Math.floor(clock() / 1000);

export const isoAt = (ms: number): string => new Date(ms).toISOString();

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether `text` is an instant exactly as `isoAt` writes it, of a real calendar day (V8's
 * Date.parse takes `2026-02-30`, PostgreSQL's timestamptz refuses it) and from year 1 on
 * (PostgreSQL has no year 0): what a cursor may carry into a comparison in SQL, where a
 * timestamptz column would otherwise fail the query.
 */
export function isIsoInstant(text: unknown): text is string {
  if (typeof text !== "string" || !ISO_INSTANT.test(text) || text.startsWith("0000")) return false;
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && isoAt(ms) === text;
}
