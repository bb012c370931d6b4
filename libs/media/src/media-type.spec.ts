import { sniffMediaType } from './media-type';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('sniffMediaType', () => {
  it.each([
    ['image/png', bytes([0x89], 'PNG\r\n\x1a\n', [0, 0])],
    ['image/jpeg', bytes([0xff, 0xd8, 0xff, 0xe0])],
    ['image/tiff', bytes('II*\x00')],
    ['image/tiff', bytes('MM\x00*')],
    ['image/webp', bytes('RIFF\x00\x00\x00\x00WEBPVP8 ')],
    ['image/gif', bytes('GIF89a')],
    ['audio/wav', bytes('RIFF\x24\x00\x00\x00WAVEfmt ')],
    ['audio/flac', bytes('fLaC\x00')],
    ['audio/ogg', bytes('OggS\x00')],
    ['audio/mpeg', bytes('ID3\x04')],
    ['audio/mpeg', bytes([0xff, 0xfb, 0x90, 0x64])],
  ])('%s', (mime, data) => {
    expect(sniffMediaType(data)?.mime).toBe(mime);
  });

  it.each([
    ['text', bytes('hello world')],
    ['AAC in ADTS (layer bits 00)', bytes([0xff, 0xf1, 0x50, 0x80])],
    ['empty', bytes()],
    ['a PDF', bytes('%PDF-1.7')],
  ])('does not recognise %s', (_name, data) => {
    expect(sniffMediaType(data)).toBeUndefined();
  });
});
