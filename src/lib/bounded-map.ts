/**
 * A Map that holds at most `max` entries: adding a new key to a full map evicts the oldest entry
 * (insertion order), so memory stays bounded whatever the traffic. Reads cost what a Map's do.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly max: number;

  constructor(max: number) {
    super();
    this.max = max;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
