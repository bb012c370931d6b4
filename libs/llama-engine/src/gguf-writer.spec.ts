import { createHash } from 'node:crypto';
import { encodeGguf, GGUF_DEFAULT_ALIGNMENT, GgufValueType } from './gguf-writer';
import { DEFAULT_TINY_LLAMA, tinyLlamaGguf, tinyVocabulary } from './testing/tiny-llama';

/** Reads back what encodeGguf wrote: enough of the format to check the layout. */
function readGguf(bytes: Buffer) {
  let at = 0;
  const u32 = () => ((at += 4), bytes.readUInt32LE(at - 4));
  const u64 = () => ((at += 8), Number(bytes.readBigUInt64LE(at - 8)));
  const str = () => {
    const n = u64();
    at += n;
    return bytes.subarray(at - n, at).toString('utf8');
  };
  const value = (type: number): unknown => {
    switch (type) {
      case GgufValueType.UINT32:
        return u32();
      case GgufValueType.INT32:
        return ((at += 4), bytes.readInt32LE(at - 4));
      case GgufValueType.FLOAT32:
        return ((at += 4), bytes.readFloatLE(at - 4));
      case GgufValueType.BOOL:
        return bytes[at++] === 1;
      case GgufValueType.STRING:
        return str();
      case GgufValueType.ARRAY: {
        const inner = u32();
        return Array.from({ length: u64() }, () => value(inner));
      }
      default:
        throw new Error(`type ${type}`);
    }
  };
  const magic = bytes.subarray(0, 4).toString('latin1');
  at = 4;
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i += 1) {
    const key = str();
    metadata.set(key, value(u32()));
  }
  const tensors = Array.from({ length: tensorCount }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, () => u64());
    return { name, dims, type: u32(), offset: u64() };
  });
  const dataStart = Math.ceil(at / GGUF_DEFAULT_ALIGNMENT) * GGUF_DEFAULT_ALIGNMENT;
  return { magic, version, metadata, tensors, dataStart };
}

describe('encodeGguf', () => {
  it('writes header, typed metadata, tensor descriptors and aligned data', () => {
    const a = { name: 'a', dims: [3], data: Float32Array.from([1, 2, 3]) };
    const b = { name: 'b', dims: [2, 2], data: Float32Array.from([0.5, -1, 4, 8]) };
    const bytes = encodeGguf(
      [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['n', { type: 'u32', value: 7 }],
        ['flag', { type: 'bool', value: true }],
        ['names', { type: 'string[]', value: ['x', 'yz'] }],
        ['ids', { type: 'i32[]', value: [-1, 2] }],
      ],
      [a, b],
    );
    const read = readGguf(bytes);
    expect(read.magic).toBe('GGUF');
    expect(read.version).toBe(3);
    expect(Object.fromEntries(read.metadata)).toEqual({
      'general.architecture': 'llama',
      n: 7,
      flag: true,
      names: ['x', 'yz'],
      ids: [-1, 2],
    });
    // 12 bytes of a are padded to the 32-byte alignment before b starts.
    expect(read.tensors).toEqual([
      { name: 'a', dims: [3], type: 0, offset: 0 },
      { name: 'b', dims: [2, 2], type: 0, offset: 32 },
    ]);
    expect(read.dataStart % 32).toBe(0);
    expect(bytes.readFloatLE(read.dataStart + 32 + 12)).toBe(8);
    expect(bytes.length % 32).toBe(0);
  });

  it('refuses tensors whose data does not match their dims, or a repeated name', () => {
    expect(() => encodeGguf([], [{ name: 't', dims: [2, 3], data: new Float32Array(5) }])).toThrow(
      'tensor "t" has dims 2×3 (6 values) but 5 values',
    );
    const t = { name: 't', dims: [1], data: new Float32Array(1) };
    expect(() => encodeGguf([], [t, t])).toThrow('tensor "t" appears twice');
  });
});

describe('the tiny llama model', () => {
  const bytes = tinyLlamaGguf();
  const read = readGguf(bytes);

  it('is a small llama GGUF with a byte-fallback vocabulary and a chat template', () => {
    expect(bytes.length).toBeGreaterThan(400_000);
    expect(bytes.length).toBeLessThan(600_000);
    expect(read.metadata.get('general.architecture')).toBe('llama');
    expect(read.metadata.get('llama.embedding_length')).toBe(64);
    expect(read.metadata.get('llama.block_count')).toBe(2);
    const tokens = read.metadata.get('tokenizer.ggml.tokens') as string[];
    expect(tokens).toHaveLength(300);
    expect(tokens.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t))).toHaveLength(256);
    expect(read.metadata.get('tokenizer.ggml.token_type')).toHaveLength(300);
    expect(read.metadata.get('tokenizer.chat_template')).toContain('<|im_start|>');
    expect(read.tensors.map((t) => t.name)).toEqual(
      expect.arrayContaining(['token_embd.weight', 'output.weight', 'blk.1.ffn_down.weight']),
    );
    expect(read.tensors.find((t) => t.name === 'token_embd.weight')?.dims).toEqual([64, 300]);
  });

  it('is the same bytes for the same seed and different bytes for another', () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(tinyLlamaGguf())).toBe(sha(bytes));
    expect(sha(tinyLlamaGguf({ ...DEFAULT_TINY_LLAMA, seed: 1 }))).not.toBe(sha(bytes));
  });

  it('has unique pieces', () => {
    const pieces = tinyVocabulary().map((v) => v.piece);
    expect(new Set(pieces).size).toBe(pieces.length);
  });
});
