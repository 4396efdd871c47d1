/** Milliseconds since the epoch. Injected so expiry is tested without sleeping. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export const nowSeconds = (clock: Clock): number => Math.floor(clock() / 1000);

export const isoAt = (ms: number): string => new Date(ms).toISOString();
