import { PrefixBlock } from '../endpoint';

/**
 * The router's approximate view of which endpoint holds which prompt blocks in its KV cache,
 * learned from where it routed requests. Each endpoint keeps at most `capacityBlocks`, least
 * recently routed evicted first.
 */
export class PrefixIndex {
  /** Per endpoint, blocks in recency order: a Map iterates oldest first. */
  private readonly blocksByEndpoint = new Map<string, Map<PrefixBlock, true>>();
  /** Per block, the endpoints holding it: a request's hits on every endpoint are found from its blocks alone. */
  private readonly holdersByBlock = new Map<PrefixBlock, Set<string>>();
  private readonly hits = new Map<string, number>();
  /** Endpoints still matching, while `matchLengths` walks the blocks. */
  private readonly alive: string[] = [];

  constructor(readonly capacityBlocks: number) {
    if (!Number.isInteger(capacityBlocks) || capacityBlocks < 1) {
      throw new RangeError(`capacityBlocks must be a positive integer, got ${capacityBlocks}`);
    }
  }

  /** Leading blocks of `blocks` that the endpoint holds, counted until the first miss. */
  matchLength(endpointId: string, blocks: readonly PrefixBlock[]): number {
    const held = this.blocksByEndpoint.get(endpointId);
    if (!held) return 0;
    let n = 0;
    while (n < blocks.length && held.has(blocks[n])) n++;
    return n;
  }

  /**
   * `matchLength` of every endpoint holding at least the first block, in one pass over the blocks:
   * the holders of block 0, narrowed block by block to those holding each next one, so the work is
   * the holders still matching at each block, not every endpoint. Endpoints absent match nothing.
   * The map is the index's own, valid until its next call or change.
   */
  matchLengths(blocks: readonly PrefixBlock[]): ReadonlyMap<string, number> {
    const hits = this.hits;
    hits.clear();
    const first = blocks.length === 0 ? undefined : this.holdersByBlock.get(blocks[0]);
    if (!first) return hits;
    const alive = this.alive;
    alive.length = 0;
    for (const id of first) alive.push(id);
    let n = 1;
    for (; n < blocks.length && alive.length > 0; n++) {
      const holders = this.holdersByBlock.get(blocks[n]);
      let kept = 0;
      for (let i = 0; i < alive.length; i++) {
        const id = alive[i];
        if (holders !== undefined && holders.has(id)) alive[kept++] = id;
        else hits.set(id, n);
      }
      alive.length = kept;
    }
    for (let i = 0; i < alive.length; i++) hits.set(alive[i], n);
    return hits;
  }

  /** Marks the blocks as just used on the endpoint. */
  record(endpointId: string, blocks: readonly PrefixBlock[]): void {
    if (blocks.length === 0) return;
    let held = this.blocksByEndpoint.get(endpointId);
    if (!held) this.blocksByEndpoint.set(endpointId, (held = new Map()));
    // Last block first, so a prefix's tail is older than its head and is evicted before it, as engines do.
    for (let i = Math.min(blocks.length, this.capacityBlocks) - 1; i >= 0; i--) {
      const block = blocks[i];
      if (!held.delete(block)) this.addHolder(block, endpointId);
      held.set(block, true);
    }
    for (const oldest of held.keys()) {
      if (held.size <= this.capacityBlocks) break;
      held.delete(oldest);
      this.dropHolder(oldest, endpointId);
    }
  }

  /** Forget an endpoint that left the registry. */
  removeEndpoint(endpointId: string): void {
    const held = this.blocksByEndpoint.get(endpointId);
    if (!held) return;
    for (const block of held.keys()) this.dropHolder(block, endpointId);
    this.blocksByEndpoint.delete(endpointId);
  }

  /** Forget every endpoint not in `liveIds`: call with the registry replica after it changes. */
  retainEndpoints(liveIds: Iterable<string>): void {
    const live = new Set(liveIds);
    for (const id of [...this.blocksByEndpoint.keys()]) if (!live.has(id)) this.removeEndpoint(id);
  }

  blockCount(endpointId: string): number {
    return this.blocksByEndpoint.get(endpointId)?.size ?? 0;
  }

  endpointIds(): string[] {
    return [...this.blocksByEndpoint.keys()];
  }

  private addHolder(block: PrefixBlock, endpointId: string): void {
    const holders = this.holdersByBlock.get(block);
    if (holders) holders.add(endpointId);
    else this.holdersByBlock.set(block, new Set([endpointId]));
  }

  private dropHolder(block: PrefixBlock, endpointId: string): void {
    const holders = this.holdersByBlock.get(block);
    if (!holders) return;
    holders.delete(endpointId);
    if (holders.size === 0) this.holdersByBlock.delete(block);
  }
}
