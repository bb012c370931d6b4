import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Logger } from '@maas/logging';
import { asBodyBytes, wordErrorRate } from '@maas/media';
import { OpenAiTranscriptionUpstream, SpeechServer, startSpeechServer } from '@maas/speech-engine';
import { concatenate, convert, speak } from './synthesize';
import { requireSystemPart } from '@maas/testing';

// A machine without these parts fails every test here with the reason.
beforeAll(() => requireSystemPart('speech'));

// Real pocketsphinx 0.8 (en-us) on speech synthesised here by espeak-ng (en-us+klatt, 140 wpm).
// Word error rates measured on this machine (deterministic: no dither in sox, pocketsphinx's own
// seeded -dither):
//   "hello world this is a test"                                        0.000
//   the 20 sentences below, three times over with 0.8 s gaps (201 s, 411 words):
//     pocketsphinx_continuous on the whole file in one run               0.226
//     through this runtime (7 chunks cut at pauses, 5 s lead-in)          0.248
//     the same without the lead-in                                        0.263
// pocketsphinx is a weak recogniser; the bound catches a broken pipeline (a lost or doubled chunk
// of 30 s moves it by ~0.15) while leaving room for other builds of espeak-ng and pocketsphinx.
const LONG_WER_BOUND = 0.35;
const SENTENCES = [
  'hello world this is a test',
  'the weather is nice today',
  'please open the door',
  'we will meet at the library tomorrow morning',
  'the students are reading books in the classroom',
  'i would like a cup of coffee',
  'the train leaves the station at nine',
  'she bought a new car last week',
  'can you help me with my homework',
  'the meeting starts in ten minutes',
  'my brother lives in a small town',
  'the children are playing in the park',
  'it is raining outside so take an umbrella',
  'we need more time to finish the project',
  'the computer is very fast',
  'he walked to the store to buy some bread',
  'the sun rises in the east',
  'please send me the report by friday',
  'the dog is sleeping under the table',
  'they are going to the beach this weekend',
];
const MODEL = 'pocketsphinx/en-us';

const logLines: any[] = [];
const logger = new Logger('speech-engine-test', 'info', (line) => logLines.push(JSON.parse(line)));
let dir: string;
let server: SpeechServer;
let hello: Buffer;
let sentences: string[];
let long: string;

function multipart(file: Buffer, name: string, fields: Record<string, string | string[]> = {}): FormData {
  const form = new FormData();
  form.append('file', new Blob([asBodyBytes(file)]), name);
  for (const [k, v] of Object.entries(fields)) for (const value of Array.isArray(v) ? v : [v]) form.append(k, value);
  return form;
}

async function transcribe(url: string, body: FormData | object, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: body instanceof FormData ? headers : { 'content-type': 'application/json', ...headers },
    body: body instanceof FormData ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'maas-speech-test-'));
  sentences = SENTENCES.map((s, i) => speak(dir, `s${i}`, s));
  hello = readFileSync(sentences[0]);
  long = concatenate(dir, 'long', [...sentences, ...sentences, ...sentences], 0.8);
  server = await startSpeechServer({ concurrency: 2, port: 0, logger });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('transcribing with pocketsphinx', () => {
  it('reads a short sentence (OpenAI multipart form, json)', async () => {
    const res = await transcribe(server.url, multipart(hello, 'hello.wav', { model: MODEL, language: 'en' }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ text: 'hello world this is a test', usage: { type: 'duration', seconds: 3 } });
    expect(Number(res.headers.get('x-audio-duration-seconds'))).toBeCloseTo(2.183, 2);
  });

  it.each([
    ['raw base64', (b: Buffer) => b.toString('base64')],
    ['a data URL', (b: Buffer) => `data:audio/wav;base64,${b.toString('base64')}`],
    ['a data URL that declares the wrong type', (b: Buffer) => `data:application/octet-stream;base64,${b.toString('base64')}`],
  ])('takes the file as %s in JSON', async (_name, encode) => {
    const res = await transcribe(server.url, { model: MODEL, file: encode(hello) });
    expect(res.status).toBe(200);
    expect(res.json.text).toBe('hello world this is a test');
  });

  it.each(['flac', 'ogg', 'mp3'])('decodes %s', async (extension) => {
    const file = readFileSync(convert(sentences[0], extension));
    const res = await transcribe(server.url, multipart(file, `hello.${extension}`, { model: MODEL }));
    expect(res.status).toBe(200);
    // Lossy codecs change what pocketsphinx hears; the pipeline, not the recogniser, is under test.
    expect(wordErrorRate(SENTENCES[0], res.json.text)).toBeLessThanOrEqual(extension === 'flac' ? 0 : 0.5);
  });

  it('renders text, srt, vtt and verbose_json', async () => {
    const form = (format: string, extra: Record<string, string | string[]> = {}) =>
      multipart(hello, 'hello.wav', { model: MODEL, response_format: format, ...extra });
    const text = await transcribe(server.url, form('text'));
    expect([text.headers.get('content-type'), text.text]).toEqual(['text/plain; charset=utf-8', 'hello world this is a test\n']);
    const srt = await transcribe(server.url, form('srt'));
    expect(srt.text).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nhello world this is a test\n$/);
    const vtt = await transcribe(server.url, form('vtt'));
    expect(vtt.text).toMatch(/^WEBVTT\n\n00:00:00\.\d{3} --> 00:00:0\d\.\d{3}\nhello world this is a test\n$/);
    const verbose = await transcribe(server.url, form('verbose_json', { 'timestamp_granularities[]': ['segment', 'word'] }));
    expect(verbose.json).toMatchObject({
      task: 'transcribe',
      language: 'english',
      duration: expect.closeTo(2.183, 2),
      text: 'hello world this is a test',
      usage: { type: 'duration', seconds: 3 },
    });
    expect(verbose.json.segments).toEqual([
      {
        id: 0,
        seek: expect.any(Number),
        start: expect.any(Number),
        end: expect.any(Number),
        text: 'hello world this is a test',
        tokens: [],
        temperature: 0,
        avg_logprob: expect.any(Number),
        compression_ratio: expect.any(Number),
        no_speech_prob: 0,
      },
    ]);
    expect(verbose.json.words.map((w: any) => w.word)).toEqual(['hello', 'world', 'this', 'is', 'a', 'test']);
    const ends = verbose.json.words.map((w: any) => [w.start, w.end]).flat();
    expect(ends).toEqual([...ends].sort((a: number, b: number) => a - b));
    expect(ends.at(-1)).toBeLessThanOrEqual(verbose.json.duration);
  });

  it('transcribes minutes of speech in chunks, with progress, within its word error bound', async () => {
    const audio = readFileSync(long);
    const seen: any[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const res = await fetch(`${server.url}/v1/audio/transcriptions/progress/long-1`);
        if (res.status === 200) seen.push(await res.json());
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const res = await transcribe(server.url, multipart(audio, 'lecture.wav', { model: MODEL, response_format: 'verbose_json' }), {
      'x-request-id': 'long-1',
    });
    polling = false;
    await poll;
    expect(res.status).toBe(200);
    const { json } = res;
    expect(json.duration).toBeGreaterThan(180);
    const wer = wordErrorRate([...SENTENCES, ...SENTENCES, ...SENTENCES].join(' '), json.text);
    expect(wer).toBeLessThanOrEqual(LONG_WER_BOUND);
    // Segments on one timeline, in order, none overlapping: no chunk lost or merged twice.
    json.segments.forEach((s: any, i: number) => {
      expect(s.end).toBeGreaterThan(s.start);
      if (i > 0) expect(s.start).toBeGreaterThanOrEqual(json.segments[i - 1].end);
    });
    expect(json.segments.at(-1).end).toBeGreaterThan(json.duration - 5);
    // Progress: chunked, seen part-way, and finished.
    const final: any = await (await fetch(`${server.url}/v1/audio/transcriptions/progress/long-1`)).json();
    expect(final).toMatchObject({ id: 'long-1', status: 'completed', percent: 100, chunks_total: expect.any(Number) });
    expect(final.chunks_total).toBeGreaterThanOrEqual(6);
    expect(final.chunks_done).toBe(final.chunks_total);
    expect(seen.some((p) => p.status === 'transcribing' && p.percent > 0 && p.percent < 100)).toBe(true);
    const logged = logLines.filter((l) => l.msg === 'transcription progress' && l.request_id === 'long-1');
    expect(logged).toHaveLength(final.chunks_total);
    expect(logged.at(-1).percent).toBe(100);
    const list: any = await (await fetch(`${server.url}/v1/audio/transcriptions/progress`)).json();
    expect(list.data.map((p: any) => p.id)).toContain('long-1');
  }, 300_000); // minutes of audio through a CPU recogniser: slow on a busy 2-core machine
});

describe('request errors', () => {
  const png = Buffer.concat([Buffer.from([0x89]), Buffer.from('PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64)]);

  it.each([
    ['invalid base64', 400, 'file', 'invalid_base64', () => ({ file: '%%%' })],
    ['an image where audio belongs', 400, 'file', 'unsupported_media_type', () => ({ file: png.toString('base64') })],
    ['no file', 400, 'file', 'missing_required_parameter', () => ({ model: MODEL })],
    [
      'an unknown response format',
      400,
      'response_format',
      'invalid_value',
      () => ({ file: hello.toString('base64'), response_format: 'docx' }),
    ],
    ['a language it does not know', 400, 'language', 'unsupported_language', () => ({ file: hello.toString('base64'), language: 'ja' })],
    [
      'a bad granularity',
      400,
      'timestamp_granularities',
      'invalid_value',
      () => ({ file: hello.toString('base64'), timestamp_granularities: ['sentence'] }),
    ],
    ['a model it does not serve', 404, 'model', 'model_not_found', () => ({ file: hello.toString('base64'), model: 'whisper-1' })],
  ])('%s → %i naming %s', async (_name, status, param, code, body) => {
    const res = await transcribe(server.url, body());
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ param, code, message: expect.any(String), type: 'invalid_request_error' });
  });

  it('400 when the bytes look like audio but do not decode', async () => {
    const broken = Buffer.concat([hello.subarray(0, 12), Buffer.alloc(100)]);
    const res = await transcribe(server.url, multipart(broken, 'broken.wav'));
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'file', code: 'invalid_audio' });
  });

  it('names the multipart file part too', async () => {
    const res = await transcribe(server.url, multipart(png, 'scan.png', { model: MODEL }));
    expect([res.status, res.json.error.param, res.json.error.code]).toEqual([400, 'file', 'unsupported_media_type']);
  });

  describe('size limits', () => {
    let small: SpeechServer;
    beforeAll(async () => {
      small = await startSpeechServer({ concurrency: 1, port: 0, logger, maxFileBytes: 64 * 1024 });
    });
    afterAll(() => small.close());

    it('413 for a multipart file over the limit', async () => {
      const res = await transcribe(small.url, multipart(readFileSync(sentences[3]), 'a.wav', { model: MODEL }));
      expect(res.status).toBe(413);
      expect(res.json.error).toMatchObject({ param: 'file', code: 'payload_too_large' });
    });

    it('413 for a base64 file over the limit', async () => {
      const res = await transcribe(small.url, { model: MODEL, file: readFileSync(sentences[3]).toString('base64') });
      expect(res.status).toBe(413);
      expect(res.json.error).toMatchObject({ param: 'file', code: 'payload_too_large' });
      expect(res.json.error.message).toMatch(/the limit is 64 KiB/);
    });

    it('413 for a body over the limit before reading it', async () => {
      const res = await transcribe(small.url, { model: MODEL, file: 'A'.repeat(1024 * 1024) });
      expect(res.status).toBe(413);
    });
  });
});

describe('adapter mode: forwarding to an OpenAI-compatible transcription server', () => {
  let adapter: SpeechServer;
  beforeAll(async () => {
    // Our own pocketsphinx runtime plays the external whisper server.
    adapter = await startSpeechServer({
      model: 'whisper-large-v3',
      upstreamModel: MODEL,
      concurrency: 2,
      port: 0,
      logger,
      upstream: new OpenAiTranscriptionUpstream(`${server.url}/v1`),
    });
  });
  afterAll(() => adapter.close());

  it('forwards the multipart form and returns the upstream answer', async () => {
    const res = await transcribe(adapter.url, multipart(hello, 'hello.wav', { model: 'whisper-large-v3' }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ text: 'hello world this is a test', usage: { type: 'duration', seconds: 3 } });
  });

  it('turns the base64 JSON form into the multipart form upstream servers speak', async () => {
    const res = await transcribe(adapter.url, {
      model: 'whisper-large-v3',
      file: `data:audio/wav;base64,${hello.toString('base64')}`,
      response_format: 'verbose_json',
      timestamp_granularities: ['word'],
    });
    expect(res.status).toBe(200);
    expect(res.json.words.map((w: any) => w.word)).toEqual(['hello', 'world', 'this', 'is', 'a', 'test']);
    const srt = await transcribe(adapter.url, { file: hello.toString('base64'), response_format: 'srt' });
    expect(srt.headers.get('content-type')).toMatch(/^application\/x-subrip/);
    expect(srt.text).toContain('hello world this is a test');
  });

  it('passes upstream errors through and checks its own model name', async () => {
    const upstreamError = await transcribe(adapter.url, { file: hello.toString('base64'), language: 'ja' });
    expect([upstreamError.status, upstreamError.json.error.code]).toEqual([400, 'unsupported_language']);
    const wrongModel = await transcribe(adapter.url, { file: hello.toString('base64'), model: MODEL });
    expect([wrongModel.status, wrongModel.json.error.code]).toEqual([404, 'model_not_found']);
  });

  it('serves its own name and reports the upstream health', async () => {
    const models: any = await (await fetch(`${adapter.url}/v1/models`)).json();
    expect(models.data.map((m: any) => [m.id, m.capabilities])).toEqual([['whisper-large-v3', ['transcription']]]);
    expect((await fetch(`${adapter.url}/health`)).status).toBe(200);
    const orphan = await startSpeechServer({
      model: 'whisper-1',
      concurrency: 1,
      port: 0,
      logger,
      upstream: new OpenAiTranscriptionUpstream('http://127.0.0.1:9'),
    });
    try {
      const health = await fetch(`${orphan.url}/health`);
      expect(health.status).toBe(503);
      const res = await transcribe(orphan.url, { file: hello.toString('base64') });
      expect([res.status, res.json.error.code]).toEqual([502, 'upstream_unreachable']);
    } finally {
      await orphan.close();
    }
  });
});

describe('serving', () => {
  it('lists its model and exposes vLLM-named load gauges', async () => {
    const models: any = await (await fetch(`${server.url}/v1/models`)).json();
    expect(models.data).toEqual([
      expect.objectContaining({ id: MODEL, object: 'model', capabilities: ['transcription'], languages: ['en'] }),
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^vllm:num_requests_running\{model_name="pocketsphinx\/en-us"\} 0$/m);
    expect(metrics).toMatch(/^vllm:num_requests_waiting\{model_name="pocketsphinx\/en-us"\} 0$/m);
    expect(metrics).toMatch(/^maas_speech_audio_seconds_total\{model_name="pocketsphinx\/en-us"\} \d+/m);
  });

  it('cancels the chunks of a long job when its client disconnects', async () => {
    const client = new AbortController();
    const request = fetch(`${server.url}/v1/audio/transcriptions`, {
      method: 'POST',
      body: multipart(readFileSync(long), 'lecture.wav'),
      headers: { 'x-request-id': 'long-cancelled' },
      signal: client.signal,
    }).catch((e: Error) => e.name);
    while (((await (await fetch(`${server.url}/v1/audio/transcriptions/progress/long-cancelled`)).json()) as any).status !== 'transcribing')
      await new Promise((r) => setTimeout(r, 50));
    client.abort();
    expect(await request).toBe('AbortError');
    const started = Date.now();
    while (server.pool.runningJobs + server.pool.waitingJobs > 0) await new Promise((r) => setTimeout(r, 20));
    // Seven chunks take seconds here; cancelled, the pool empties at once.
    expect(Date.now() - started).toBeLessThan(1000);
    const progress: any = await (await fetch(`${server.url}/v1/audio/transcriptions/progress/long-cancelled`)).json();
    expect(progress.status).toBe('cancelled');
    expect(progress.chunks_done).toBeLessThan(progress.chunks_total);
  }, 60_000);
});

describe('maas speech-engine', () => {
  it('prints a ready line with its URL, serves, and stops on SIGTERM', async () => {
    const root = path.resolve(__dirname, '../../..');
    // The transpiled CLI (jest's global setup builds dist/), run the way bin/maas.js runs it.
    const cli = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(path.join(root, 'dist/cli/main.js'))}).main(['speech-engine','--port','0','--upstream',${JSON.stringify(server.url)}]).then((c)=>{process.exitCode=c})`,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = createInterface({ input: cli.stdout });
    const ready = await new Promise<any>((resolve, reject) => {
      lines.on('line', (line) => {
        const record = JSON.parse(line);
        if (record.event === 'ready') resolve(record);
      });
      cli.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // With only --upstream, it serves what the upstream serves.
    expect(ready.model).toBe(MODEL);
    const res = await transcribe(ready.url, { file: hello.toString('base64') });
    expect(res.json.text).toBe('hello world this is a test');
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    cli.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
