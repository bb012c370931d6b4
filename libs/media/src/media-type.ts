export type MediaKind = 'image' | 'audio';

export interface MediaType {
  readonly mime: string;
  readonly kind: MediaKind;
  /** File extension and the name tools such as sox use for the container (`-t flac`). */
  readonly extension: string;
}

const ascii = (bytes: Uint8Array, at: number, text: string): boolean => {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i += 1) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** MPEG audio frame header: 11 sync bits, then a layer field that is never 00 (00 is AAC's ADTS). */
function isMpegFrame(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 && ((bytes[1] >> 1) & 0x03) !== 0 && (bytes[2] & 0xf0) !== 0xf0
  );
}

/**
 * The media type from the leading bytes; declared types (data: URL, multipart Content-Type) are not
 * trusted because clients routinely send `application/octet-stream` or the wrong image type.
 */
export function sniffMediaType(bytes: Uint8Array): MediaType | undefined {
  if (PNG.every((b, i) => bytes[i] === b)) return { mime: 'image/png', kind: 'image', extension: 'png' };
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { mime: 'image/jpeg', kind: 'image', extension: 'jpg' };
  if (
    (ascii(bytes, 0, 'II') && bytes[2] === 0x2a && bytes[3] === 0x00) ||
    (ascii(bytes, 0, 'MM') && bytes[2] === 0x00 && bytes[3] === 0x2a)
  ) {
    return { mime: 'image/tiff', kind: 'image', extension: 'tif' };
  }
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return { mime: 'image/webp', kind: 'image', extension: 'webp' };
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return { mime: 'image/gif', kind: 'image', extension: 'gif' };
  if (ascii(bytes, 0, 'BM') && bytes.length > 26) return { mime: 'image/bmp', kind: 'image', extension: 'bmp' };
  if ((ascii(bytes, 0, 'RIFF') || ascii(bytes, 0, 'RIFX')) && ascii(bytes, 8, 'WAVE'))
    return { mime: 'audio/wav', kind: 'audio', extension: 'wav' };
  if (ascii(bytes, 0, 'fLaC')) return { mime: 'audio/flac', kind: 'audio', extension: 'flac' };
  if (ascii(bytes, 0, 'OggS')) return { mime: 'audio/ogg', kind: 'audio', extension: 'ogg' };
  if (ascii(bytes, 0, 'ID3') || isMpegFrame(bytes)) return { mime: 'audio/mpeg', kind: 'audio', extension: 'mp3' };
  return undefined;
}

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/tiff', 'image/webp', 'image/gif', 'image/bmp'] as const;
export const AUDIO_TYPES = ['audio/wav', 'audio/flac', 'audio/ogg', 'audio/mpeg'] as const;
