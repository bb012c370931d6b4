/** How many leading tokens two sequences share. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}

export interface SlotCandidate {
  readonly index: number;
  /** Tokens the slot's KV cache still holds from its last request. */
  readonly cached: readonly number[];
  /** When the slot last took a request (any increasing number; 0 = never). */
  readonly lastUsed: number;
}

/** llama-server's default `--slot-prompt-similarity`: below it a slot's cache is not worth taking. */
export const MIN_PROMPT_SIMILARITY = 0.5;

/**
 * The free slot to run a prompt on, as llama-server picks it: the slot whose cache covers the
 * largest share of the prompt if that share reaches `minSimilarity` (its prompt is then only partly
 * evaluated), else the least recently used slot, so that a start token shared by every prompt does
 * not evict a conversation another slot keeps. The prompt's last token is always evaluated, since
 * its logits give the first new token.
 */
export function pickSlot(
  free: readonly SlotCandidate[],
  prompt: readonly number[],
  minSimilarity = MIN_PROMPT_SIMILARITY,
): { index: number; reuse: number } | undefined {
  if (free.length === 0) return undefined;
  const reuseOf = (slot: SlotCandidate) => Math.max(0, Math.min(commonPrefixLength(slot.cached, prompt), prompt.length - 1));
  let best: SlotCandidate | undefined;
  let bestReuse = 0;
  for (const slot of free) {
    const reuse = reuseOf(slot);
    if (reuse === 0 || reuse < minSimilarity * prompt.length) continue;
    if (!best || reuse > bestReuse || (reuse === bestReuse && slot.lastUsed < best.lastUsed)) {
      best = slot;
      bestReuse = reuse;
    }
  }
  if (best) return { index: best.index, reuse: bestReuse };
  const oldest = free.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
  return { index: oldest.index, reuse: reuseOf(oldest) };
}
