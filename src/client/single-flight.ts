/**
 * One refresh in flight per browser. A refresh token is single-use: two tabs refreshing with the
 * same one at once would, without the server's grace window, look like reuse. Within one page the
 * caller shares one promise; across tabs the Web Locks API (where the context has it) queues them,
 * so a tab that waited can see that another tab already refreshed and skip its own. Where there
 * are no Web Locks, the server's grace window (TOKENVER_REFRESH_GRACE) answers the second refresh
 * with the same successor.
 */
interface LockManager {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManager | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

/** Runs `task` holding the browser-wide lock `name`, or at once where there is no Web Locks API. */
export async function withBrowserLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  return locks === undefined ? task() : locks.request(name, task);
}
