import { ApiError, FormBody, IMAGE_TYPES } from '@maas/media';
import { parseChatOcrRequest, parseOcrRequest } from './ocr-request';

const PNG = Buffer.concat([Buffer.from([0x89]), Buffer.from('PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(32)]);
const rule = { kind: 'image' as const, maxBytes: 1024, types: IMAGE_TYPES };
const url = `data:image/png;base64,${PNG.toString('base64')}`;

function failure(fn: () => unknown): Pick<ApiError, 'status' | 'param' | 'code'> {
  try {
    fn();
  } catch (err) {
    const e = err as ApiError;
    return { status: e.status, param: e.param, code: e.code };
  }
  throw new Error('expected an error');
}

describe('parseOcrRequest', () => {
  it('reads the JSON form with defaults', () => {
    const request = parseOcrRequest({ kind: 'json', json: { model: 'tesseract/jpn', image: url } }, rule);
    expect(request).toMatchObject({ model: 'tesseract/jpn', languages: undefined, layout: 'text' });
    expect(request.image.type.mime).toBe('image/png');
  });

  it('normalises languages: arrays, "eng+san" strings and two-letter codes', () => {
    expect(parseOcrRequest({ kind: 'json', json: { image: url, languages: ['en', 'sa', 'eng'] } }, rule).languages).toEqual(['eng', 'san']);
    expect(parseOcrRequest({ kind: 'json', json: { image: url, languages: 'eng+Devanagari' } }, rule).languages).toEqual([
      'eng',
      'Devanagari',
    ]);
  });

  it('reads the multipart form, the image as a file part', () => {
    const form = new FormBody(
      new Map([
        ['layout', ['words']],
        ['languages[]', ['hin', 'eng']],
      ]),
      new Map([['image', { bytes: PNG, filename: 'scan.png', type: 'image/png' }]]),
    );
    const request = parseOcrRequest({ kind: 'multipart', form }, rule);
    expect(request).toMatchObject({ layout: 'words', languages: ['hin', 'eng'] });
    expect(request.image.filename).toBe('scan.png');
  });

  it.each([
    [{ image: url, languages: [] }, 'languages'],
    [{ image: url, languages: [3] }, 'languages'],
    [{ image: url, layout: 'paragraphs' }, 'layout'],
    [{ image: url, model: 7 }, 'model'],
  ])('names the bad field of %j', (json, param) => {
    expect(failure(() => parseOcrRequest({ kind: 'json', json }, rule))).toMatchObject({ status: 400, param });
  });
});

describe('parseChatOcrRequest', () => {
  const image = (u: unknown) => ({ type: 'image_url', image_url: u });

  it('takes the images of the last user message that has any, and counts the text parts', () => {
    const request = parseChatOcrRequest(
      {
        model: 'tesseract/jpn',
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: 'Transcribe.' },
          { role: 'user', content: [{ type: 'text', text: 'first' }, image({ url })] },
          { role: 'assistant', content: 'text one' },
          { role: 'user', content: [image(url), image({ url, detail: 'high' })] },
        ],
      },
      rule,
    );
    expect(request).toMatchObject({ model: 'tesseract/jpn', stream: true, includeUsage: true, promptText: 'Transcribe.\nfirst\ntext one' });
    expect(request.images).toHaveLength(2);
  });

  it.each([
    [{ messages: [] }, 'messages', 'invalid_type'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'messages', 'missing_image'],
    [
      { messages: [{ role: 'user', content: [image({ url: 'data:image/png;base64,%%' })] }] },
      'messages[0].content[0].image_url.url',
      'invalid_base64',
    ],
    [{ n: 2, messages: [{ role: 'user', content: [image({ url })] }] }, 'n', 'unsupported_value'],
  ])('refuses %j', (json, param, code) => {
    expect(failure(() => parseChatOcrRequest(json, rule))).toMatchObject({ status: 400, param, code });
  });
});
