import { ApiError, AUDIO_TYPES, FormBody } from '@maas/media';
import { parseTranscriptionRequest } from './transcription-request';

const WAV = Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), Buffer.alloc(32)]);
const rule = { kind: 'audio' as const, maxBytes: 1024, types: AUDIO_TYPES };

describe('parseTranscriptionRequest', () => {
  it("reads OpenAI's multipart form", () => {
    const form = new FormBody(
      new Map([
        ['model', ['whisper-1']],
        ['language', ['en']],
        ['response_format', ['verbose_json']],
        ['temperature', ['0.2']],
        ['timestamp_granularities[]', ['word', 'segment']],
      ]),
      new Map([['file', { bytes: WAV, filename: 'talk.wav', type: 'audio/x-wav' }]]),
    );
    const request = parseTranscriptionRequest({ kind: 'multipart', form }, rule);
    expect(request).toMatchObject({ model: 'whisper-1', language: 'en', responseFormat: 'verbose_json', temperature: 0.2 });
    expect([...request.granularities]).toEqual(['word', 'segment']);
    expect(request.audio).toMatchObject({ filename: 'talk.wav', declared: 'audio/x-wav', type: { mime: 'audio/wav' } });
  });

  it('reads the JSON form with the file base64-encoded, json by default', () => {
    const request = parseTranscriptionRequest({ kind: 'json', json: { file: WAV.toString('base64') } }, rule);
    expect(request.responseFormat).toBe('json');
    expect(request.granularities.size).toBe(0);
    expect(request.audio.bytes).toEqual(WAV);
  });

  it.each([
    [{ file: WAV.toString('base64'), response_format: 'mp4' }, 'response_format'],
    [{ file: WAV.toString('base64'), temperature: 3 }, 'temperature'],
    [{ file: WAV.toString('base64'), timestamp_granularities: ['token'] }, 'timestamp_granularities'],
    [{ file: WAV.toString('base64'), language: 5 }, 'language'],
    [{}, 'file'],
  ])('names the bad field of %j', (json, param) => {
    let error: ApiError | undefined;
    try {
      parseTranscriptionRequest({ kind: 'json', json }, rule);
    } catch (err) {
      error = err as ApiError;
    }
    expect(error).toMatchObject({ status: 400, param });
  });
});
