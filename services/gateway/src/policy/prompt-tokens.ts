import type { InferenceRoute } from './openai-request';

/**
 * The gateway's own prompt count, for a runtime that reports no usage: the request's text run
 * through a BPE tokenizer (OpenAI's o200k_base or cl100k_base, tables from js-tiktoken, each read when a
 * model it counts for first needs it), with the chat template's cost per message. It is the model's own count only when the model uses that
 * tokenizer; for the others it is a close estimate, far closer than characters ÷ 4 (which bills
 * Japanese at about a quarter of its tokens: bench/token-count.ts).
 */
export const TOKENIZERS = ['o200k_base', 'cl100k_base'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];
export const DEFAULT_TOKENIZER: TokenizerName = 'o200k_base';

/** Per chat message: the role and the template's delimiters (`<|im_start|>role\n … <|im_end|>\n`), as OpenAI counts them. */
export const TOKENS_PER_MESSAGE = 3;
/** A message's `name` field costs one more token. */
export const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|im_start|>assistant<|message|>`. */
export const REPLY_PRIMING_TOKENS = 3;
/**
 * An image part, whatever its size: OpenAI's base cost of one image (detail "low"). The runtime's own
 * count depends on the vision encoder and the resolution, which the gateway does not decode.
 */
export const IMAGE_PART_TOKENS = 85;
/** Media parts other than images (audio, video, files): the same fixed cost, for the same reason. */
export const MEDIA_PART_TOKENS = IMAGE_PART_TOKENS;

/** A tokenizer's data as js-tiktoken ships it: the pre-split pattern and the merge ranks (base64 tokens by rank). */
interface Ranks {
  readonly pat_str: string;
  readonly bpe_ranks: string;
}
/** The CommonJS build exports the table itself; an ES module build under `default`. */
const table = (m: Ranks | { default: Ranks }): Ranks => ('default' in m ? m.default : m);
const RANKS_MODULE: Record<TokenizerName, string> = {
  o200k_base: 'js-tiktoken/ranks/o200k_base',
  cl100k_base: 'js-tiktoken/ranks/cl100k_base',
};

/**
 * A table loaded on first use (each is 1–2 MB of text; most requests never need one). The counter
 * copies it into its own form, so the module leaves the module cache at once: its text is garbage
 * once the table is built, rather than held for the life of the process.
 */
function readRanks(name: TokenizerName): Ranks {
  const id = require.resolve(RANKS_MODULE[name]);
  const data = table(require(id) as Ranks | { default: Ranks });
  const loaded = require.cache[id];
  delete require.cache[id];
  const children = module.children;
  if (loaded && children?.includes(loaded)) children.splice(children.indexOf(loaded), 1);
  return data;
}

/** base64 digit → its 6 bits; -1 for anything else (the `=` padding ends a token). */
const BASE64 = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) BASE64[c.charCodeAt(0)] = i;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SPACE = 32;
const NEWLINE = 10;
const utf8 = new TextEncoder();

/**
 * Counts tokens the way tiktoken encodes: the text is split by the tokenizer's pattern, and each
 * piece not a token itself is merged pair by pair, lowest rank first (leftmost on ties). Only the
 * count is kept, and merges update the ranks of their two neighbours only (as tiktoken's own
 * implementation does), so a long piece of CJK text costs O(n²) comparisons rather than js-tiktoken's
 * O(n²) string joins; counts equal js-tiktoken's (prompt-tokens.spec.ts checks).
 *
 * The table is packed in typed arrays rather than a Map of strings: every token's bytes end to end,
 * where each starts, its rank, and an open-addressing hash of the bytes (FNV-1a) to the token. For
 * o200k_base that is ~5 MB in four objects, against ~15 MB of heap in 200,000 strings and a Map
 * (heap statistics in bench/token-count.ts), and a piece is looked up in its UTF-8 bytes as they are.
 */
class TokenCounter {
  private readonly pattern: RegExp;
  /** Token bytes end to end: token i is bytes[starts[i]] up to bytes[starts[i + 1]]. */
  private bytes: Uint8Array;
  private readonly starts: Uint32Array;
  private readonly ranks: Uint32Array;
  /** Token index + 1 at the slot its bytes hash to (or the next free one after it); 0: empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private tokens = 0;
  /** The table's text while it loads (`A RANK TOKEN TOKEN …` lines, base64 tokens of consecutive ranks), read from `cursor` on. */
  private source: string | undefined;
  private cursor = 0;
  /** Fields of the current line read so far (the first is a marker, the second the first token's rank). */
  private field = 0;
  private rank = 0;
  /** A piece's UTF-8 bytes while it is counted. */
  private piece = new Uint8Array(1024);

  constructor(data: Ranks) {
    this.pattern = new RegExp(data.pat_str, 'gu');
    const source = data.bpe_ranks;
    // every token follows a blank, so there are fewer tokens than blanks, and fewer bytes than ¾ of the base64
    let blanks = 0;
    for (let at = source.indexOf(' '); at !== -1; at = source.indexOf(' ', at + 1)) blanks++;
    this.bytes = new Uint8Array(Math.ceil((source.length * 3) / 4));
    this.starts = new Uint32Array(blanks + 1);
    this.ranks = new Uint32Array(blanks);
    let slots = 1024;
    while (slots < 2 * blanks) slots *= 2;
    this.slots = new Int32Array(slots);
    this.mask = slots - 1;
    this.source = source;
  }

  get loaded(): boolean {
    return this.source === undefined;
  }

  /** Adds up to `budget` tokens of the table; true once it is whole. */
  load(budget: number): boolean {
    const src = this.source;
    if (src === undefined) return true;
    let at = this.cursor;
    while (budget > 0 && at < src.length) {
      const c = src.charCodeAt(at);
      if (c === NEWLINE) {
        this.field = 0;
        at++;
        continue;
      }
      if (c === SPACE) {
        at++;
        continue;
      }
      let stop = at + 1;
      while (stop < src.length && src.charCodeAt(stop) !== SPACE && src.charCodeAt(stop) !== NEWLINE) stop++;
      if (this.field === 1) this.rank = Number.parseInt(src.slice(at, stop), 10);
      else if (this.field > 1) {
        this.add(src, at, stop, this.rank++);
        budget--;
      }
      this.field++;
      at = stop;
    }
    this.cursor = at;
    if (at < src.length) return false;
    this.source = undefined;
    this.bytes = this.bytes.slice(0, this.starts[this.tokens]);
    return true;
  }

  /** One base64 token: its bytes appended, its slot taken. */
  private add(src: string, from: number, to: number, rank: number): void {
    const bytes = this.bytes;
    let end = this.starts[this.tokens];
    let hash = FNV_OFFSET;
    let bits = 0;
    let acc = 0;
    for (let i = from; i < to; i++) {
      const c = src.charCodeAt(i);
      const v = c < 128 ? BASE64[c] : -1;
      if (v < 0) break;
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        const b = (acc >> bits) & 0xff;
        bytes[end++] = b;
        hash = Math.imul(hash ^ b, FNV_PRIME);
      }
    }
    const token = this.tokens++;
    this.starts[this.tokens] = end;
    this.ranks[token] = rank;
    let slot = hash & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = token + 1;
  }

  /** The rank of the piece's bytes `a` up to `b` as one token, Infinity when they are none. */
  private find(a: number, b: number): number {
    const piece = this.piece;
    let hash = FNV_OFFSET;
    for (let i = a; i < b; i++) hash = Math.imul(hash ^ piece[i], FNV_PRIME);
    const { bytes, starts, slots, mask } = this;
    const length = b - a;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const t = slots[slot];
      if (t === 0) return Infinity;
      const from = starts[t - 1];
      if (starts[t] - from !== length) continue;
      let i = 0;
      while (i < length && bytes[from + i] === piece[a + i]) i++;
      if (i === length) return this.ranks[t - 1];
    }
  }

  count(text: string): number {
    if (!this.loaded) this.load(Infinity);
    let n = 0;
    for (const match of text.matchAll(this.pattern)) {
      const s = match[0];
      if (this.piece.length < 3 * s.length) this.piece = new Uint8Array(4 * s.length);
      const length = utf8.encodeInto(s, this.piece).written;
      n += this.find(0, length) !== Infinity ? 1 : this.merged(length);
    }
    return n;
  }

  /** Tokens of the piece (its `length` bytes) after byte-pair merging. */
  private merged(length: number): number {
    const rank = (a: number, b: number) => this.find(a, b);
    // starts[i]: where part i begins; pairRank[i]: rank of part i merged with part i + 1.
    const starts: number[] = [];
    const pairRank: number[] = [];
    for (let i = 0; i < length; i++) starts.push(i);
    starts.push(length);
    for (let i = 0; i < length - 1; i++) pairRank.push(rank(i, i + 2));
    pairRank.push(Infinity);
    for (;;) {
      let min = Infinity;
      let at = -1;
      for (let i = 0; i < pairRank.length - 1; i++) {
        if (pairRank[i] < min) {
          min = pairRank[i];
          at = i;
        }
      }
      if (at === -1) break;
      // Part `at` absorbs part `at + 1`; only its own pair and its left neighbour's change.
      starts.splice(at + 1, 1);
      pairRank.splice(at + 1, 1);
      pairRank[at] = at + 2 < starts.length ? rank(starts[at], starts[at + 2]) : Infinity;
      if (at > 0) pairRank[at - 1] = rank(starts[at - 1], starts[at + 1]);
    }
    return starts.length - 1;
  }
}

const counters = new Map<TokenizerName, TokenCounter>();

function counter(name: TokenizerName): TokenCounter {
  let c = counters.get(name);
  if (!c) {
    c = new TokenCounter(readRanks(name));
    counters.set(name, c);
  }
  return c;
}

/** Whether a tokenizer's table is loaded whole (a count does not wait for it). */
export function tokenizerLoaded(name: TokenizerName): boolean {
  return counters.get(name)?.loaded ?? false;
}

/**
 * Loads the next slice of a tokenizer's table (~10,000 tokens, a few ms); true once it is whole. A
 * service calls it between requests so that the first count without usage finds the table ready
 * instead of holding the event loop for the whole load (~0.15 s of CPU for o200k_base).
 */
export function loadTokenizerSlice(name: TokenizerName, tokens = 10_000): boolean {
  return counter(name).load(tokens);
}

/** Tokens of `text`; special-token text (`<|endoftext|>`) is counted as the ordinary text it is in a request. */
export function countTextTokens(text: string, tokenizer: TokenizerName = DEFAULT_TOKENIZER): number {
  return text === '' ? 0 : counter(tokenizer).count(text);
}

/**
 * Characters of one request run through the tokenizer; the rest is counted at the tokens per
 * character measured so far, so a body of tens of MB does not hold the event loop for seconds. At
 * the 0.3 µs (mixed English and code) to 1.1 µs (Japanese) of CPU a character measured by
 * bench/token-count.ts, this bounds a count to roughly 30–110 ms of one core.
 */
export const MAX_TOKENIZED_CHARS = 100_000;

/** Counts the texts of one request within {@link MAX_TOKENIZED_CHARS}. */
class RequestCounter {
  private left = MAX_TOKENIZED_CHARS;
  private tokens = 0;
  private chars = 0;

  constructor(private readonly tokenizer: TokenizerName) {}

  readonly count = (text: string): number => {
    const taken = Math.min(text.length, this.left);
    let n = 0;
    if (taken > 0) {
      n = countTextTokens(taken === text.length ? text : text.slice(0, taken), this.tokenizer);
      this.left -= taken;
      this.tokens += n;
      this.chars += taken;
    }
    if (taken === text.length) return n;
    const rate = this.chars > 0 ? this.tokens / this.chars : 0.25;
    return n + Math.ceil((text.length - taken) * rate);
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTokenIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t));

/** A message's content: a string, or parts (text counted, each image or other media part at its fixed cost). */
function contentTokens(content: unknown, count: (text: string) => number): number {
  if (typeof content === 'string') return count(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (!isObject(part)) continue;
    if (typeof part.text === 'string') n += count(part.text);
    else if (part.type === 'image_url') n += IMAGE_PART_TOKENS;
    else if (typeof part.type === 'string' && part.type !== 'text') n += MEDIA_PART_TOKENS;
  }
  return n;
}

/** An assistant message's tool calls: each function's name and its arguments (JSON text, as the model wrote them). */
function toolCallTokens(calls: unknown, count: (text: string) => number): number {
  if (!Array.isArray(calls)) return 0;
  let n = 0;
  for (const call of calls) {
    if (!isObject(call) || !isObject(call.function)) continue;
    const { name, arguments: args } = call.function;
    if (typeof name === 'string') n += count(name);
    if (typeof args === 'string') n += count(args);
    else if (args !== undefined) n += count(JSON.stringify(args));
  }
  return n;
}

/**
 * A chat request's prompt: per message the template overhead, the role, the name, the content's
 * text and media parts, and the tool calls; then the tool definitions (`tools`, or the legacy
 * `functions`) as their JSON text, which is close to what chat templates render them as.
 */
export function chatPromptTokens(body: Record<string, unknown>, tokenizer: TokenizerName = DEFAULT_TOKENIZER): number {
  const count = new RequestCounter(tokenizer).count;
  let n = REPLY_PRIMING_TOKENS;
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    n += TOKENS_PER_MESSAGE;
    if (typeof m.role === 'string') n += count(m.role);
    if (typeof m.name === 'string') n += count(m.name) + TOKENS_PER_NAME;
    n += contentTokens(m.content, count);
    if (typeof m.reasoning_content === 'string') n += count(m.reasoning_content);
    n += toolCallTokens(m.tool_calls, count);
    if (isObject(m.function_call)) n += toolCallTokens([{ function: m.function_call }], count);
  }
  for (const field of ['tools', 'functions'] as const) {
    const defs = body[field];
    if (Array.isArray(defs) && defs.length > 0) n += count(JSON.stringify(defs));
  }
  return n;
}

/** `prompt` or `input`: text, token ids (counted as given), or an array of either. */
export function textInputTokens(v: unknown, tokenizer: TokenizerName = DEFAULT_TOKENIZER): number {
  return inputTokens(v, new RequestCounter(tokenizer).count);
}

function inputTokens(v: unknown, count: (text: string) => number): number {
  if (typeof v === 'string') return count(v);
  if (isTokenIds(v)) return v.length;
  if (!Array.isArray(v)) return 0;
  let n = 0;
  for (const item of v) n += inputTokens(item, count);
  return n;
}

/** A non-streamed answer's text, within the same bound as a prompt. */
export function completionTextTokens(text: string, tokenizer: TokenizerName = DEFAULT_TOKENIZER): number {
  return new RequestCounter(tokenizer).count(text);
}

/** The prompt tokens of a chat, completion or embeddings request body (media endpoints bill by their own rules). */
export function promptTokens(route: InferenceRoute, body: Record<string, unknown>, tokenizer: TokenizerName = DEFAULT_TOKENIZER): number {
  switch (route.endpoint) {
    case 'chat.completions':
      return chatPromptTokens(body, tokenizer);
    case 'completions':
      return textInputTokens(body.prompt, tokenizer);
    case 'embeddings':
      return textInputTokens(body.input, tokenizer);
    default:
      return 0;
  }
}

/** `MODEL=tokenizer,…` (`*=tokenizer` for the others): which tokenizer counts each model's prompts. */
export type TokenizerMap = ReadonlyMap<string, TokenizerName>;

export function parseTokenizerMap(raw: string, key: string): TokenizerMap {
  const out = new Map<string, TokenizerName>();
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.lastIndexOf('=');
    const model = entry.slice(0, at).trim();
    const name = entry.slice(at + 1).trim();
    if (at <= 0 || !model || !(TOKENIZERS as readonly string[]).includes(name))
      throw new Error(
        `${key}: expected MODEL=TOKENIZER with TOKENIZER one of ${TOKENIZERS.join(', ')} (or *=TOKENIZER), got ${JSON.stringify(entry)}`,
      );
    if (out.has(model)) throw new Error(`${key}: ${JSON.stringify(model)} is given twice`);
    out.set(model, name as TokenizerName);
  }
  return out;
}

export function tokenizerFor(map: TokenizerMap, model: string): TokenizerName {
  return map.get(model) ?? map.get('*') ?? DEFAULT_TOKENIZER;
}
