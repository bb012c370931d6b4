import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRng } from '@maas/random';
import { encodeGguf, GgufTensor, GgufValue } from '../gguf-writer';

/**
 * A tiny llama-architecture model with random weights, for tests and demos of the llama.cpp runtime:
 * it loads and generates (nonsense) like any GGUF, in ~0.5 MB, without downloading anything.
 */
export interface TinyLlamaSpec {
  readonly seed: number;
  readonly embeddingLength: number;
  readonly blocks: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly feedForwardLength: number;
  /** Context the model claims to be trained for (`llama.context_length`). */
  readonly contextLength: number;
  readonly name: string;
}

export const DEFAULT_TINY_LLAMA: TinyLlamaSpec = {
  seed: 20240601,
  embeddingLength: 64,
  blocks: 2,
  heads: 4,
  kvHeads: 4,
  feedForwardLength: 128,
  contextLength: 2048,
  name: 'tiny-random-llama',
};

/** ChatML, the template most GGUF chat models carry; node-llama-cpp recognises it by rendering it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** llama.cpp token types (`llama_token_type`). */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const;

interface VocabEntry {
  readonly piece: string;
  readonly type: number;
  readonly score: number;
}

/**
 * A SentencePiece-style vocabulary with byte fallback: specials, all 256 bytes (so any text
 * tokenizes), and a few dozen pieces so that English merges into fewer tokens than bytes.
 */
export function tinyVocabulary(): VocabEntry[] {
  const vocab: VocabEntry[] = [
    { piece: '<unk>', type: TokenType.UNKNOWN, score: 0 },
    { piece: '<s>', type: TokenType.CONTROL, score: 0 },
    { piece: '</s>', type: TokenType.CONTROL, score: 0 },
    { piece: '<|im_start|>', type: TokenType.CONTROL, score: 0 },
    { piece: '<|im_end|>', type: TokenType.CONTROL, score: 0 },
  ];
  for (let b = 0; b < 256; b += 1)
    vocab.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, type: TokenType.BYTE, score: 0 });
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
  // Earlier pieces score higher: the SPM tokenizer merges the best-scoring pair first.
  const pieces = ['\u2581', ...letters, '.', ',', '!', '?', '\u2581t', 'he', '\u2581the', 'in', 'er', '\u2581a', 'an', 'on'];
  pieces.forEach((piece, i) => vocab.push({ piece, type: TokenType.NORMAL, score: -(i + 1) }));
  return vocab;
}

/** The one seeded generator: weights are the same on every run. */
const uniform = seededRng;

function gaussian(seed: number): () => number {
  const u = uniform(seed);
  return () => {
    // Box–Muller; 1 - u() keeps the logarithm finite.
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    return r * Math.cos(2 * Math.PI * u());
  };
}

/** The GGUF bytes of the tiny model: same spec, same bytes. */
export function tinyLlamaGguf(spec: TinyLlamaSpec = DEFAULT_TINY_LLAMA): Buffer {
  const { embeddingLength: n, blocks, heads, kvHeads, feedForwardLength: ff } = spec;
  if (n % heads !== 0) throw new Error(`embeddingLength ${n} is not a multiple of heads ${heads}`);
  const headDim = n / heads;
  const vocab = tinyVocabulary();
  const random = gaussian(spec.seed);
  const matrix = (name: string, cols: number, rows: number, std: number): GgufTensor => {
    const data = new Float32Array(cols * rows);
    for (let i = 0; i < data.length; i += 1) data[i] = random() * std;
    return { name, dims: [cols, rows], data };
  };
  const ones = (name: string): GgufTensor => ({ name, dims: [n], data: new Float32Array(n).fill(1) });
  // Output rows large enough that the next-token distribution is peaked, not uniform (greedy
  // decoding is then stable against tiny floating-point differences between batch shapes); small
  // for byte tokens, so the nonsense is mostly letters rather than broken UTF-8.
  const output = matrix('output.weight', n, vocab.length, 1);
  vocab.forEach((v, row) => {
    const std = v.type === TokenType.BYTE ? 0.05 : 0.35;
    for (let i = row * n; i < (row + 1) * n; i += 1) output.data[i] *= std;
  });
  const tensors: GgufTensor[] = [matrix('token_embd.weight', n, vocab.length, 1), ones('output_norm.weight'), output];
  const std = 1 / Math.sqrt(n);
  for (let b = 0; b < blocks; b += 1) {
    tensors.push(
      ones(`blk.${b}.attn_norm.weight`),
      matrix(`blk.${b}.attn_q.weight`, n, n, std),
      matrix(`blk.${b}.attn_k.weight`, n, headDim * kvHeads, std),
      matrix(`blk.${b}.attn_v.weight`, n, headDim * kvHeads, std),
      matrix(`blk.${b}.attn_output.weight`, n, n, std),
      ones(`blk.${b}.ffn_norm.weight`),
      matrix(`blk.${b}.ffn_gate.weight`, n, ff, std),
      matrix(`blk.${b}.ffn_up.weight`, n, ff, std),
      matrix(`blk.${b}.ffn_down.weight`, ff, n, 1 / Math.sqrt(ff)),
    );
  }
  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: spec.name }],
    ['general.file_type', { type: 'u32', value: 0 }],
    ['llama.context_length', { type: 'u32', value: spec.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: n }],
    ['llama.block_count', { type: 'u32', value: blocks }],
    ['llama.feed_forward_length', { type: 'u32', value: ff }],
    ['llama.rope.dimension_count', { type: 'u32', value: headDim }],
    ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
    ['llama.attention.head_count', { type: 'u32', value: heads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: kvHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.vocab_size', { type: 'u32', value: vocab.length }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.map((v) => v.piece) }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: vocab.map((v) => v.score) }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.map((v) => v.type) }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.eot_token_id', { type: 'u32', value: 4 }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: CHATML_TEMPLATE }],
  ];
  return encodeGguf(metadata, tensors);
}

/** Writes the tiny model to `file` (directories created) and returns its size in bytes. */
export function writeTinyLlamaGguf(file: string, spec: TinyLlamaSpec = DEFAULT_TINY_LLAMA): number {
  const bytes = tinyLlamaGguf(spec);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, bytes);
  return bytes.length;
}
