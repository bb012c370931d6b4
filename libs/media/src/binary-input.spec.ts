import { ApiError } from './api-error';
import { checkMedia, decodeMediaField, jsonBodyLimit } from './binary-input';

const PNG = Buffer.concat([Buffer.from([0x89]), Buffer.from('PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(100, 7)]);
const rule = { kind: 'image' as const, maxBytes: 200, types: ['image/png', 'image/jpeg'] };

function error(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected an error');
}

describe('decodeMediaField', () => {
  it('accepts raw base64, URL-safe base64, wrapped lines and data URLs', () => {
    const b64 = PNG.toString('base64');
    expect(decodeMediaField(b64, 'image', rule).bytes).toEqual(PNG);
    expect(decodeMediaField(PNG.toString('base64url'), 'image', rule).bytes).toEqual(PNG);
    expect(decodeMediaField(b64.replace(/(.{76})/g, '$1\n'), 'image', rule).bytes).toEqual(PNG);
    const fromUrl = decodeMediaField(`data:image/jpeg;base64,${b64}`, 'image', rule);
    // The bytes decide, not the declaration.
    expect(fromUrl.type.mime).toBe('image/png');
    expect(fromUrl.declared).toBe('image/jpeg');
  });

  it.each([
    ['not base64', 'abc$', 400, 'invalid_base64'],
    ['one character too many', 'abcde', 400, 'invalid_base64'],
    ['padding in the middle', 'ab=cdefg', 400, 'invalid_base64'],
    ['data URL without base64', 'data:image/png,abcd', 400, 'invalid_base64'],
    ['a remote URL', 'https://example.org/a.png', 400, 'unsupported_url'],
    ['empty', '', 400, 'empty_file'],
    ['a number', 42, 400, 'invalid_type'],
    ['missing', undefined, 400, 'missing_required_parameter'],
    ['text bytes', Buffer.from('hello world').toString('base64'), 400, 'unsupported_media_type'],
    ['too large', Buffer.alloc(300, 1).toString('base64'), 413, 'payload_too_large'],
  ])('%s → %i naming the field', (_name, value, status, code) => {
    const err = error(() => decodeMediaField(value, 'image', rule));
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.param]).toEqual([status, code, 'image']);
  });

  it('names the wrong kind of media', () => {
    const wav = Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), Buffer.alloc(20)]);
    expect(error(() => checkMedia(wav, 'file', rule)).message).toBe(
      '`file` has an unsupported media type: audio/wav; supported: image/png, image/jpeg',
    );
  });

  it('sizes JSON bodies for a base64 binary of the limit', () => {
    expect(jsonBodyLimit(3, 0)).toBe(4);
    expect(jsonBodyLimit(20 * 1024 * 1024)).toBeGreaterThan(Math.ceil((20 * 1024 * 1024 * 4) / 3));
  });
});
