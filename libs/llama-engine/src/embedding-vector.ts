/** Scales a vector to unit length, as OpenAI's and llama-server's embeddings are (cosine = dot product). */
export function normalize(vector: readonly number[]): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const out = Float32Array.from(vector);
  if (sum === 0 || !Number.isFinite(sum)) return out;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < out.length; i += 1) out[i] *= scale;
  return out;
}

/** OpenAI's `encoding_format: "base64"`: the little-endian float32 bytes. */
export function toBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

export function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i += 1) out[i] = bytes.readFloatLE(i * 4);
  return out;
}
