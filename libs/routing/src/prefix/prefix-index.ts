import { PrefixBlock } from '../endpoint';

/**
 * The router's approximate view of which endpoint holds which prompt blocks in its KV cache,
 * learned from where it routed requests. Each endpoint keeps at most `capacityBlocks`, least
 * recently routed evicted first.
 */
export class PrefixIndex {
  /** Per endpoint, blocks in recency order: a Map iterates oldest first. */
  private readonly blocksByEndpoint = new Map<string, Map<PrefixBlock, true>>();

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

  /** Marks the blocks as just used on the endpoint. */
  record(endpointId: string, blocks: readonly PrefixBlock[]): void {
    if (blocks.length === 0) return;
    let held = this.blocksByEndpoint.get(endpointId);
    if (!held) this.blocksByEndpoint.set(endpointId, (held = new Map()));
    // Last block first, so a prefix's tail is older than its head and is evicted before it, as engines do.
    for (let i = Math.min(blocks.length, this.capacityBlocks) - 1; i >= 0; i--) {
      held.delete(blocks[i]);
      held.set(blocks[i], true);
    }
    for (const oldest of held.keys()) {
      if (held.size <= this.capacityBlocks) break;
      held.delete(oldest);
    }
  }

  /** Forget an endpoint that left the registry. */
  removeEndpoint(endpointId: string): void {
    this.blocksByEndpoint.delete(endpointId);
  }

  /** Forget every endpoint not in `liveIds`: call with the registry replica after it changes. */
  retainEndpoints(liveIds: Iterable<string>): void {
    const live = new Set(liveIds);
    for (const id of [...this.blocksByEndpoint.keys()]) if (!live.has(id)) this.blocksByEndpoint.delete(id);
  }

  blockCount(endpointId: string): number {
    return this.blocksByEndpoint.get(endpointId)?.size ?? 0;
  }

  endpointIds(): string[] {
    return [...this.blocksByEndpoint.keys()];
  }
}
