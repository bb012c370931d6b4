import { DEFAULT_TINY_LLAMA, writeTinyLlamaGguf } from './tiny-llama';

// Usage: node scripts/run.js libs/llama-engine/src/testing/make-tiny-gguf.ts OUT.gguf [--seed N]
const args = process.argv.slice(2);
const out = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--seed');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : DEFAULT_TINY_LLAMA.seed;
if (!out || !Number.isInteger(seed)) {
  process.stderr.write('usage: node scripts/run.js libs/llama-engine/src/testing/make-tiny-gguf.ts OUT.gguf [--seed N]\n');
  process.exit(2);
}
const bytes = writeTinyLlamaGguf(out, { ...DEFAULT_TINY_LLAMA, seed });
process.stdout.write(`${JSON.stringify({ file: out, bytes, seed, model: DEFAULT_TINY_LLAMA.name })}\n`);
