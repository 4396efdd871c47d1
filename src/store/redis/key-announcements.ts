import { Redis } from "ioredis";

/**
 * Signing-key changes announced over Redis (docs/keys.md): a node reloads its keys as soon as a
 * rotation or a revocation is announced, instead of at its next poll (at most a second later).
 * Best effort on top of the poll: a lost message only means the poll does it.
 */
export class KeyAnnouncements {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;

  private constructor(url: string, prefix: string) {
    const options = { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 3000 };
    this.#publisher = new Redis(url, { ...options, enableOfflineQueue: false });
    // Resubscribed by hand, with its failure caught: ioredis's own resubscription leaves a
    // rejected promise nobody handles when the SUBSCRIBE times out on a reconnect.
    this.#subscriber = new Redis(url, { ...options, autoResubscribe: false });
    this.#publisher.on("error", () => {});
    this.#subscriber.on("error", () => {});
    this.#channel = `${prefix}keys`;
  }

  /** Connects and subscribes; `onChange` runs for every announcement (of any node, this one included). */
  static async open(url: string, prefix: string, onChange: () => void): Promise<KeyAnnouncements> {
    const announcements = new KeyAnnouncements(url, prefix);
    try {
      await Promise.all([announcements.#publisher.connect(), announcements.#subscriber.connect()]);
      announcements.#subscriber.on("message", (channel: string) => {
        if (channel === announcements.#channel) onChange();
      });
      await announcements.#subscriber.subscribe(announcements.#channel);
      announcements.#subscriber.on("ready", () => {
        // A lost announcement only means the poll catches up.
        announcements.#subscriber.subscribe(announcements.#channel).catch(() => {});
      });
    } catch (error) {
      await announcements.close();
      throw error;
    }
    return announcements;
  }

  /** Tells every node that the keys changed. Never throws (the poll catches up). */
  async announce(): Promise<void> {
    await this.#publisher.publish(this.#channel, "changed").catch(() => {});
  }

  async close(): Promise<void> {
    this.#publisher.disconnect();
    this.#subscriber.disconnect();
  }
}
