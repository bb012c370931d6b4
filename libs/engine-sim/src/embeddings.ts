import { fnv1a } from './rng';

/**
 * A deterministic unit vector for a text: character trigrams hashed into the dimensions (feature
 * hashing), so texts that share words point in similar directions and RAG or kNN tests behave
 * sensibly; no model involved.
 */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  const chars = Array.from(` ${text.toLowerCase().replace(/\s+/g, ' ').trim()} `);
  for (let i = 0; i + 3 <= chars.length; i += 1) {
    const gram = Buffer.from(chars[i] + chars[i + 1] + chars[i + 2], 'utf8');
    const h = fnv1a(gram);
    const g = fnv1a(gram, 0, gram.length, 0x9e3779b9);
    vector[h % dimensions] += h & 0x80000000 ? -1 : 1;
    vector[g % dimensions] += g & 0x80000000 ? -0.5 : 0.5;
  }
  let norm = 0;
  for (const x of vector) norm += x * x;
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i += 1) vector[i] *= scale;
  return vector;
}

/** OpenAI's base64 encoding: the little-endian float32 bytes. */
export function embeddingToBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}
