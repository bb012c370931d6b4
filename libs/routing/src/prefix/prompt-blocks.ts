import { PrefixBlock } from '../endpoint';

/** An OpenAI chat message; only its text takes part in the prefix. */
export interface ChatMessage {
  readonly role: string;
  readonly content?: string | null | readonly { readonly type: string; readonly text?: string }[];
}

export interface PromptBlockOptions {
  /** Characters per block; ~4 characters a token, so 256 is about vLLM's 64-token granularity. */
  readonly blockSize?: number;
  /** Mixed into the first hash so the same prompt for two models never shares blocks. */
  readonly model?: string;
  /** Only the leading blocks count: bounds the cost for very long prompts. */
  readonly maxBlocks?: number;
}

export const DEFAULT_BLOCK_SIZE = 256;
export const DEFAULT_MAX_BLOCKS = 256;

/**
 * Chained hashes of a prompt's full blocks: block i's hash covers all text up to the end of
 * block i, so two prompts share hash i exactly when they share that prefix. A trailing partial
 * block has no hash, as an engine caches only full blocks.
 */
export function promptBlocks(prompt: string | readonly ChatMessage[], options: PromptBlockOptions = {}): PrefixBlock[] {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const maxBlocks = options.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
  const text = typeof prompt === 'string' ? prompt : chatText(prompt);
  const count = Math.min(maxBlocks, Math.floor(text.length / blockSize));
  const blocks: PrefixBlock[] = [];
  let previous = hash53(options.model ?? '', 0);
  for (let i = 0; i < count; i++) {
    previous = hash53(text.slice(i * blockSize, (i + 1) * blockSize), previous);
    blocks.push(previous);
  }
  return blocks;
}

/** One message after another, role-tagged, so a conversation's earlier turns are a text prefix of later ones. */
export function chatText(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `<|${String(m?.role)}|>\n${messageText(m?.content)}\n`).join('');
}

/** Whatever a client sent: text is hashed, parts stand for their type, anything else (5, {}, [null]) for nothing. */
function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      if (typeof part !== 'object' || part === null) return '';
      const { text, type } = part as { text?: unknown; type?: unknown };
      return typeof text === 'string' ? text : `<${String(type)}>`;
    })
    .join('');
}

/** cyrb53-style string hash to a 53-bit integer, seeded with a previous hash to chain blocks. */
function hash53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ Math.floor(seed / 4294967296);
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
