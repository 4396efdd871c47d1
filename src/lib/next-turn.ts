/**
 * Resolves on a later turn of the event loop, after the timers, I/O and other requests that wait.
 *
 * On SQLite every query runs on the main thread, so the steps of a sign-in (its counters and account
 * read; after the hash, the session's transaction; the tokens and the reply) would run back to back,
 * about a millisecond in which no other request is answered. Awaiting this between them bounds what
 * a sign-in holds the event loop for to its longest step (docs/benchmark.md, the login storm). It
 * opens no new window: on PostgreSQL every query is already a turn of its own, and a sign-in already
 * waits for its hash. Never await it inside a transaction: the connection would be held meanwhile.
 *
 * Two `setImmediate`s, not one: a step that runs in an I/O callback (a request's body, a hash's
 * answer) is in the loop's poll phase, and one immediate runs in the check phase right after it,
 * before the loop comes back to its timers: the two steps would still be one stretch to a timer
 * that is due. The second immediate is queued in the check phase, so it runs a full turn later.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
