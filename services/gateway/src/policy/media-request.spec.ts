import { checkMediaForm, checkMediaJson, multipartBoundary, OCR_FIELD, TRANSCRIPTION_FIELD, withFormModel } from './media-request';
import { INFERENCE_ROUTES, parseInferenceRequest } from './openai-request';
import { ocrUsage, transcriptionUsage } from './token-usage';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt '), Buffer.alloc(32)]);
const BOUNDARY = '----maas7';

function form(parts: { name: string; value: Buffer | string; filename?: string }[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const file = p.filename !== undefined ? `; filename="${p.filename}"\r\nContent-Type: application/octet-stream` : '';
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\n\r\n`),
      Buffer.from(p.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const route = (path: string) => INFERENCE_ROUTES.find((r) => r.path === path)!;

describe('media requests', () => {
  it('reads the boundary of multipart content types only', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeUndefined();
  });

  it('finds the model after the file and swaps it without touching the file bytes', () => {
    const raw = form([
      { name: 'file', value: WAV, filename: 'a.wav' },
      { name: 'model', value: 'whisper' },
      { name: 'response_format', value: 'text' },
    ]);
    const checked = checkMediaForm(raw, BOUNDARY, TRANSCRIPTION_FIELD);
    expect(checked).toMatchObject({ ok: true, model: 'whisper' });
    if (!checked.ok) return;
    const renamed = withFormModel(raw, checked.form!, 'pocketsphinx/en-us');
    expect(checkMediaForm(renamed, BOUNDARY, TRANSCRIPTION_FIELD)).toMatchObject({ ok: true, model: 'pocketsphinx/en-us' });
    expect(renamed.includes(WAV)).toBe(true);
  });

  it.each([
    ['no model', [{ name: 'file', value: WAV, filename: 'a.wav' }], TRANSCRIPTION_FIELD, 'model', 'missing_required_parameter'],
    ['no file', [{ name: 'model', value: 'm' }], TRANSCRIPTION_FIELD, 'file', 'missing_required_parameter'],
    [
      'an image as audio',
      [
        { name: 'model', value: 'm' },
        { name: 'file', value: PNG, filename: 'a.wav' },
      ],
      TRANSCRIPTION_FIELD,
      'file',
      'unsupported_media_type',
    ],
    [
      'an empty file',
      [
        { name: 'model', value: 'm' },
        { name: 'image', value: '', filename: 'a.png' },
      ],
      OCR_FIELD,
      'image',
      'empty_file',
    ],
    [
      'bad base64 in a field',
      [
        { name: 'model', value: 'm' },
        { name: 'image', value: 'not base64!' },
      ],
      OCR_FIELD,
      'image',
      'invalid_base64',
    ],
  ])('refuses %s, naming the field', (_name, parts, field, param, code) => {
    expect(checkMediaForm(form(parts), BOUNDARY, field)).toMatchObject({ ok: false, param, code });
  });

  it("accepts OpenAI's `file` name for an OCR image", () => {
    expect(
      checkMediaForm(
        form([
          { name: 'model', value: 'm' },
          { name: 'file', value: PNG, filename: 'p.png' },
        ]),
        BOUNDARY,
        OCR_FIELD,
      ),
    ).toMatchObject({ ok: true });
  });

  it.each([
    [{ model: 'm', image: PNG.toString('base64') }, OCR_FIELD, undefined],
    [{ model: 'm', image: `data:image/png;base64,${PNG.toString('base64')}` }, OCR_FIELD, undefined],
    [{ model: 'm', image: 'ab$' }, OCR_FIELD, 'image'],
    [{ model: 'm', image: WAV.toString('base64') }, OCR_FIELD, 'image'],
    [{ model: 'm', file: WAV.toString('base64') }, TRANSCRIPTION_FIELD, undefined],
    [{ model: 'm', file: 'https://example.org/a.wav' }, TRANSCRIPTION_FIELD, 'file'],
    [{ file: WAV.toString('base64') }, TRANSCRIPTION_FIELD, 'model'],
  ])('checks base64 JSON %#', (body, field, param) => {
    const checked = checkMediaJson(body, field);
    expect(checked.ok).toBe(param === undefined);
    if (!checked.ok) expect(checked.param).toBe(param);
  });

  it('routes through parseInferenceRequest by content type, and counts chat images', () => {
    const raw = form([
      { name: 'model', value: 'm' },
      { name: 'file', value: WAV, filename: 'a.wav' },
    ]);
    const parsed = parseInferenceRequest(route('/v1/audio/transcriptions'), raw, `multipart/form-data; boundary=${BOUNDARY}`);
    expect(parsed).toMatchObject({ ok: true, value: { model: 'm', stream: false, form: expect.any(Object) } });
    const chat = parseInferenceRequest(
      route('/v1/chat/completions'),
      Buffer.from(
        JSON.stringify({
          model: 'ocr',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'read' },
                { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
              ],
            },
          ],
        }),
      ),
    );
    expect(chat).toMatchObject({ ok: true, value: { imageParts: 1 } });
  });
});

describe('media usage', () => {
  it('bills OCR images at 85 prompt tokens and characters at four a token', () => {
    expect(ocrUsage(Buffer.from(JSON.stringify({ text: 'धर्म', usage: { images: 1, characters: 9 } })))).toEqual({
      promptTokens: 85,
      completionTokens: 3,
    });
    expect(ocrUsage(Buffer.from('{"text":"x"}'))).toBeUndefined();
  });

  it('bills audio at 10 tokens a second and the transcript at four characters a token', () => {
    expect(transcriptionUsage(12.34, Buffer.from('{"text":"hello world"}'), 'application/json')).toEqual({
      promptTokens: 124,
      completionTokens: 3,
      counted: true,
    });
    expect(transcriptionUsage(undefined, Buffer.from('hello'), 'text/plain')).toEqual({
      promptTokens: 0,
      completionTokens: 2,
      counted: false,
    });
  });
});
