import { fnv1a } from './rng';

/**
 * The simulator's tokenizer rule: one token per 4 UTF-8 bytes, rounded up (OpenAI's rule of thumb
 * for English; deterministic, and cheap enough to run on every request). Token id arrays count one
 * token per id.
 */
export const BYTES_PER_TOKEN = 4;

export function countTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** Chat prompts are rendered with the ChatML template before counting, so roles and turns cost tokens. */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  const turns = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`);
  return `${turns.join('')}<|im_start|>assistant\n`;
}

export function countChatTokens(messages: readonly ChatMessage[]): number {
  return countTokens(renderChatPrompt(messages));
}

/** A prompt as bytes for hashing: its UTF-8 text, or 4 bytes per token id (so one id = one token). */
export function promptBytes(prompt: string | readonly number[]): Uint8Array {
  if (typeof prompt === 'string') return Buffer.from(prompt, 'utf8');
  const bytes = Buffer.alloc(prompt.length * BYTES_PER_TOKEN);
  prompt.forEach((id, i) => bytes.writeUInt32LE(id >>> 0, i * BYTES_PER_TOKEN));
  return bytes;
}

/**
 * Prefix-cache keys of a prompt: one chained hash per full block of `blockTokens` tokens
 * (blockTokens × 4 bytes), so equal keys mean equal prompt prefixes, as in vLLM.
 */
export function prefixBlockHashes(bytes: Uint8Array, blockTokens: number): number[] {
  const blockBytes = blockTokens * BYTES_PER_TOKEN;
  const hashes: number[] = [];
  let lo = 0x811c9dc5;
  let hi = 0x01000193;
  for (let start = 0; start + blockBytes <= bytes.length; start += blockBytes) {
    lo = fnv1a(bytes, start, start + blockBytes, lo);
    hi = fnv1a(bytes, start, start + blockBytes, hi ^ lo);
    // 53 bits: a safe integer, so keys stay plain numbers like the traces' hash ids.
    hashes.push((hi & 0x1fffff) * 4294967296 + lo);
  }
  return hashes;
}

/** Every piece is 4 ASCII bytes, so the generated text re-counts to exactly its token count. */
const FILLER =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ';
const PIECES = FILLER.length / BYTES_PER_TOKEN;

/** The `index`-th generated token of a response whose text starts at `offset` in the filler. */
export function fillerToken(offset: number, index: number): string {
  const at = ((offset + index) % PIECES) * BYTES_PER_TOKEN;
  return FILLER.slice(at, at + BYTES_PER_TOKEN);
}

export function fillerText(offset: number, tokens: number): string {
  let text = '';
  for (let i = 0; i < tokens; i += 1) text += fillerToken(offset, i);
  return text;
}

/** A deterministic starting offset into the filler for a prompt, so equal prompts answer alike. */
export function fillerOffset(prompt: Uint8Array): number {
  return fnv1a(prompt) % PIECES;
}
