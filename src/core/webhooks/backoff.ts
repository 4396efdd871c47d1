/**
 * The waits between attempts (docs/api.md section 10): after the 1st failed attempt 5 s, then
 * 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; the 8th failure goes to the dead-letter table.
 */
export const BACKOFF_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
export const MAX_ATTEMPTS = BACKOFF_MS.length + 1;

/** When attempt number `attempt` (1-based) fails, the wait before the next; undefined: dead-letter it. */
export function backoffAfter(attempt: number): number | undefined {
  return BACKOFF_MS[attempt - 1];
}
