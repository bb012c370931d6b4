/**
 * The GGUF container (version 3) as llama.cpp reads it: a header, typed key/value metadata, tensor
 * descriptors, then the tensor data, each tensor aligned to `general.alignment` (32 by default).
 * Little-endian throughout; strings are a u64 byte length followed by UTF-8 without a terminator.
 */

/** Value types of GGUF metadata (gguf.h `gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValue =
  | { readonly type: 'u32'; readonly value: number }
  | { readonly type: 'i32'; readonly value: number }
  | { readonly type: 'f32'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'string[]'; readonly value: readonly string[] }
  | { readonly type: 'f32[]'; readonly value: readonly number[] }
  | { readonly type: 'i32[]'; readonly value: readonly number[] };

export interface GgufTensor {
  readonly name: string;
  /** ggml order: the first dimension is the innermost (a row of a matrix). */
  readonly dims: readonly number[];
  /** Only F32 tensors are written: tiny test models do not need quantisation. */
  readonly data: Float32Array;
}

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;

/** Appends little-endian values to a growing byte list. */
class ByteSink {
  private readonly parts: Buffer[] = [];
  length = 0;

  private push(buf: Buffer): void {
    this.parts.push(buf);
    this.length += buf.length;
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }

  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }

  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }

  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }

  u8(v: number): void {
    this.push(Buffer.from([v]));
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }

  bytes(b: Buffer): void {
    this.push(b);
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.push(Buffer.alloc(pad));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function writeValue(out: ByteSink, value: GgufValue): void {
  switch (value.type) {
    case 'u32':
      out.u32(GgufValueType.UINT32);
      out.u32(value.value);
      return;
    case 'i32':
      out.u32(GgufValueType.INT32);
      out.i32(value.value);
      return;
    case 'f32':
      out.u32(GgufValueType.FLOAT32);
      out.f32(value.value);
      return;
    case 'bool':
      out.u32(GgufValueType.BOOL);
      out.u8(value.value ? 1 : 0);
      return;
    case 'string':
      out.u32(GgufValueType.STRING);
      out.string(value.value);
      return;
    case 'string[]':
      out.u32(GgufValueType.ARRAY);
      out.u32(GgufValueType.STRING);
      out.u64(value.value.length);
      for (const s of value.value) out.string(s);
      return;
    case 'f32[]':
      out.u32(GgufValueType.ARRAY);
      out.u32(GgufValueType.FLOAT32);
      out.u64(value.value.length);
      for (const x of value.value) out.f32(x);
      return;
    case 'i32[]':
      out.u32(GgufValueType.ARRAY);
      out.u32(GgufValueType.INT32);
      out.u64(value.value.length);
      for (const x of value.value) out.i32(x);
      return;
  }
}

/** The bytes of a GGUF file with these metadata entries (in order) and tensors (in order). */
export function encodeGguf(
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: readonly GgufTensor[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Buffer {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`tensor "${t.name}" appears twice`);
    names.add(t.name);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length)
      throw new Error(`tensor "${t.name}" has dims ${t.dims.join('×')} (${elements} values) but ${t.data.length} values`);
  }
  const out = new ByteSink();
  out.bytes(Buffer.from(GGUF_MAGIC, 'latin1'));
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GGML_TYPE_F32);
    out.u64(offset);
    const size = t.data.length * 4;
    offset += size + ((alignment - (size % alignment)) % alignment);
  }
  out.padTo(alignment);
  const dataStart = out.length;
  tensors.forEach((t, i) => {
    if (out.length - dataStart !== offsets[i]) throw new Error(`tensor "${t.name}" misplaced`);
    // Explicit little-endian so the file is the same on any host.
    const bytes = Buffer.alloc(t.data.length * 4);
    t.data.forEach((x, j) => bytes.writeFloatLE(x, j * 4));
    out.bytes(bytes);
    out.padTo(alignment);
  });
  return out.toBuffer();
}
