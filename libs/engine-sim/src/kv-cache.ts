/** A prefix block's identity: a chained hash of the prompt up to and including the block. */
export type PrefixKey = number | string;

interface PrefixEntry {
  readonly key: PrefixKey;
  readonly blocks: number;
  refs: number;
}

/**
 * KV cache of fixed-size blocks, counted rather than addressed. Sequences hold private blocks and
 * references to shared prefix entries; an entry nobody references stays cached until its blocks
 * are needed, then goes least recently released first (vLLM's free-block queue).
 */
export class KvCache {
  private readonly entries = new Map<PrefixKey, PrefixEntry>();
  /** Unreferenced entries, oldest release first; Map iteration order is insertion order. */
  private readonly idle = new Map<PrefixKey, PrefixEntry>();
  private referenced = 0;
  private idleBlocks = 0;

  constructor(readonly totalBlocks: number) {}

  /** Blocks held by live sequences (what vLLM reports as KV-cache usage). */
  get usedBlocks(): number {
    return this.referenced;
  }

  /** Blocks holding reusable prefixes that nobody references. */
  get cachedBlocks(): number {
    return this.idleBlocks;
  }

  /** Blocks a new allocation may take, evicting idle prefixes if it must. */
  get availableBlocks(): number {
    return this.totalBlocks - this.referenced;
  }

  /** How many leading keys are cached. */
  matchPrefix(keys: readonly PrefixKey[]): number {
    let n = 0;
    while (n < keys.length && this.entries.has(keys[n])) n += 1;
    return n;
  }

  /** Blocks that referencing `keys` would take out of the available pool. */
  referenceCost(keys: readonly PrefixKey[], blocksPerKey: number): number {
    let cost = 0;
    const seen = new Set<PrefixKey>();
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = this.entries.get(key);
      if (!entry) cost += blocksPerKey;
      else if (entry.refs === 0) cost += entry.blocks;
    }
    return cost;
  }

  /** References `keys`, inserting the missing ones; the caller checked `referenceCost` first. */
  reference(keys: readonly PrefixKey[], blocksPerKey: number): void {
    // Hits first, so that inserting the misses cannot evict a block this sequence is about to reuse.
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) this.addRef(entry);
    }
    for (const key of keys) {
      if (this.entries.has(key)) continue;
      this.makeRoom(blocksPerKey);
      const entry: PrefixEntry = { key, blocks: blocksPerKey, refs: 1 };
      this.entries.set(key, entry);
      this.referenced += blocksPerKey;
    }
  }

  /** Drops one reference per key; the tail of a prompt is released first so it is evicted first. */
  release(keys: readonly PrefixKey[]): void {
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const entry = this.entries.get(keys[i]);
      if (!entry || entry.refs === 0) continue;
      entry.refs -= 1;
      if (entry.refs === 0) {
        this.referenced -= entry.blocks;
        this.idle.set(entry.key, entry);
        this.idleBlocks += entry.blocks;
      }
    }
  }

  /** Takes `n` private blocks; false (and nothing taken) if they do not fit. */
  allocate(n: number): boolean {
    if (n <= 0) return true;
    if (n > this.availableBlocks) return false;
    this.makeRoom(n);
    this.referenced += n;
    return true;
  }

  free(n: number): void {
    this.referenced -= n;
  }

  /** Forgets everything (the engine process died). */
  clear(): void {
    this.entries.clear();
    this.idle.clear();
    this.referenced = 0;
    this.idleBlocks = 0;
  }

  private addRef(entry: PrefixEntry): void {
    if (entry.refs === 0) {
      this.idle.delete(entry.key);
      this.idleBlocks -= entry.blocks;
      this.referenced += entry.blocks;
    }
    entry.refs += 1;
  }

  private makeRoom(n: number): void {
    for (const entry of this.idle.values()) {
      if (this.totalBlocks - this.referenced - this.idleBlocks >= n) return;
      this.idle.delete(entry.key);
      this.entries.delete(entry.key);
      this.idleBlocks -= entry.blocks;
    }
  }
}
