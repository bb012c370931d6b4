import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import OpenAI, { BadRequestError, toFile } from 'openai';
import { characterErrorRate, wordErrorRate } from '@maas/media';
import { requireSystemPart, startNode, StartedProcess } from '@maas/testing';
import { renderText } from '../libs/ocr-engine/test/render';
import { concatenate, speak } from '../libs/speech-engine/test/synthesize';
import { MODEL as CHAT_MODEL, Stack } from '../services/gateway/test/support/stack';

// A machine without these parts fails every test here with the reason.
beforeAll(() => requireSystemPart('ocr', 'speech'));

// Bounds are the runtimes' own (libs/ocr-engine/test, libs/speech-engine/test): the gateway must
// not move them. OCR of clean 28 pt Sanskrit measured 0.000 (bound 0.02); pocketsphinx on espeak-ng
// speech: one sentence 0.000, minutes of sentences 0.248 (bound 0.35).
const CLEAN_CER_BOUND = 0.02;
const LONG_WER_BOUND = 0.35;
const SANSKRIT = 'धर्मक्षेत्रे कुरुक्षेत्रे समवेता युयुत्सवः।\nमामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय॥\nसत्यमेव जयते नानृतं सत्येन पन्था विततो देवयानः।';
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
const OCR_MODEL = 'tesseract/eng+Devanagari';
const SPEECH_MODEL = 'pocketsphinx/en-us';
const EMBEDDING_MODEL = 'BAAI/bge-m3';

/**
 * Every kind of model through one API: real OCR, speech and (simulated) embedding runtimes, each
 * attached by `maas worker --attach`, behind the gateway; binaries travel base64 or multipart.
 */
describe('media through the gateway', () => {
  // A short total limit for chat: long transcriptions must be governed by their own.
  const stack = new Stack({ GATEWAY_TOTAL_TIMEOUT: '5s', GATEWAY_MAX_BODY_OCR: String(2 * 1024 * 1024) });
  const engines: StartedProcess[] = [];
  let client: OpenAI;
  let secret: string;
  let dir: string;
  let sanskrit: Buffer;
  let hello: Buffer;
  let long: Buffer;
  const workerIds: Record<string, string> = {};

  async function engine(args: string[]): Promise<string> {
    const proc = startNode('bin/maas.js', { LOG_LEVEL: 'info' }, args);
    engines.push(proc);
    const ready = await proc.waitFor((r) => r.event === 'ready', 60_000, `${args[0]} ready`);
    return String(ready.url);
  }

  async function attach(kind: string, url: string): Promise<void> {
    const workerId = `${kind}-${stack.namespace.slice(-4)}`;
    const proc = startNode('bin/maas.js', { ...stack.env, LOG_LEVEL: 'info' }, [
      'worker',
      '--attach',
      url,
      '--worker-id',
      workerId,
      '--heartbeat',
      '500ms',
    ]);
    const registered = await proc.waitFor((r) => r.msg === 'worker registered', 30_000, `registration of ${workerId}`);
    stack.workers.push({ ...proc, workerId, url: String(registered.url) });
    await stack.gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === workerId, 10_000, `gateway learning ${workerId}`);
    workerIds[kind] = workerId;
  }

  const post = (route: string, body: unknown) => stack.post(route, secret, body);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'maas-media-e2e-'));
    sanskrit = renderText(dir, 'sanskrit', SANSKRIT, 'Noto Sans');
    const spoken = SENTENCES.map((s, i) => speak(dir, `s${i}`, s));
    hello = readFileSync(spoken[0]);
    // Twice over with pauses: a little over two minutes of speech.
    long = readFileSync(concatenate(dir, 'long', [...spoken, ...spoken], 0.8));
    await stack.start();
    const [ocrUrl, speechUrl, simUrl] = await Promise.all([
      engine(['ocr-engine', '--port', '0', '--model', OCR_MODEL, '--concurrency', '2']),
      engine(['speech-engine', '--port', '0', '--concurrency', '2']),
      engine(['sim-engine', '--profile', 'cpu16-qwen2.5-3b', '--model', EMBEDDING_MODEL, '--port', '0', '--time-scale', '50']),
    ]);
    await Promise.all([
      attach('ocr', ocrUrl),
      attach('speech', speechUrl),
      attach('embed', simUrl),
      stack.startWorker(['--capabilities', 'chat,completion']),
    ]);
    secret = (await stack.createKey({ name: 'media-e2e' })).secret;
    client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 600_000 });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.stop()));
    await stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists chat, embedding, OCR and transcription models with their capabilities', async () => {
    const models: { id: string; metadata: { capabilities: string[] } }[] = [];
    for await (const m of client.models.list()) models.push(m as never);
    const capabilities = Object.fromEntries(models.map((m) => [m.id, m.metadata.capabilities]));
    expect(capabilities).toMatchObject({
      [CHAT_MODEL]: ['chat', 'completion'],
      [EMBEDDING_MODEL]: ['embedding'],
      [OCR_MODEL]: ['chat', 'ocr'],
      [SPEECH_MODEL]: ['transcription'],
    });
  });

  it('reads Sanskrit through /v1/ocr (base64 JSON and multipart), billed by characters', async () => {
    const res = await post('/v1/ocr', { model: OCR_MODEL, image: `data:image/png;base64,${sanskrit.toString('base64')}` });
    expect(res.status).toBe(200);
    const json: any = await res.json();
    const cer = characterErrorRate(SANSKRIT, json.text);
    expect(cer).toBeLessThanOrEqual(CLEAN_CER_BOUND);
    process.stdout.write(`OCR CER through the gateway (/v1/ocr): ${cer.toFixed(3)}\n`);
    const [event] = await stack.usageOf(res.headers.get('x-request-id')!);
    expect(event).toMatchObject({
      endpoint: 'ocr',
      status: 200,
      model: OCR_MODEL,
      workerId: workerIds.ocr,
      promptTokens: 85,
      completionTokens: Math.ceil(json.usage.characters / 4),
    });

    const form = new FormData();
    form.append('model', OCR_MODEL);
    form.append('image', new Blob([new Uint8Array(sanskrit)], { type: 'image/png' }), 'page.png');
    const multipart = await fetch(stack.url('/v1/ocr'), { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
    expect(multipart.status).toBe(200);
    expect(characterErrorRate(SANSKRIT, ((await multipart.json()) as any).text)).toBeLessThanOrEqual(CLEAN_CER_BOUND);
  });

  it('reads an image sent to the OCR model as a chat message (official SDK)', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: OCR_MODEL,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Transcribe this page.' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${sanskrit.toString('base64')}` } },
            ],
          },
        ],
      })
      .withResponse();
    const cer = characterErrorRate(SANSKRIT, data.choices[0].message.content ?? '');
    expect(cer).toBeLessThanOrEqual(CLEAN_CER_BOUND);
    process.stdout.write(`OCR CER through the gateway (chat): ${cer.toFixed(3)}\n`);
    const [event] = await stack.usageOf(response.headers.get('x-request-id')!);
    expect(event).toMatchObject({ endpoint: 'chat.completions', workerId: workerIds.ocr, tokensCountedBy: 'runtime' });
  });

  it('refuses bad binaries with a 400 naming the field, and oversized bodies with a 413', async () => {
    const bad = await post('/v1/ocr', { model: OCR_MODEL, image: 'this is not base64!' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatchObject({ param: 'image', code: 'invalid_base64' });
    const audioAsImage = await post('/v1/ocr', { model: OCR_MODEL, image: hello.toString('base64') });
    expect(((await audioAsImage.json()) as any).error).toMatchObject({ param: 'image', code: 'unsupported_media_type' });
    const big = await post('/v1/ocr', { model: OCR_MODEL, image: Buffer.alloc(3 * 1024 * 1024).toString('base64') });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.message).toContain('/v1/ocr accepts at most 2 MiB');
  });

  it('transcribes speech through the SDK (multipart) and as base64 JSON, billed by duration', async () => {
    const { data, response } = await client.audio.transcriptions
      .create({ file: await toFile(hello, 'hello.wav'), model: SPEECH_MODEL })
      .withResponse();
    expect(wordErrorRate(SENTENCES[0], data.text)).toBe(0);
    const seconds = Number(response.headers.get('x-audio-duration-seconds'));
    expect(seconds).toBeGreaterThan(1);
    const [event] = await stack.usageOf(response.headers.get('x-request-id')!);
    expect(event).toMatchObject({
      endpoint: 'audio.transcriptions',
      workerId: workerIds.speech,
      audioSeconds: seconds,
      promptTokens: Math.ceil(seconds * 10),
      tokensCountedBy: 'runtime',
    });

    const text = await client.audio.transcriptions.create({
      file: await toFile(hello, 'hello.wav'),
      model: SPEECH_MODEL,
      response_format: 'text',
    });
    expect(String(text).trim()).toBe(SENTENCES[0]);

    const json = await post('/v1/audio/transcriptions', { model: SPEECH_MODEL, file: `data:audio/wav;base64,${hello.toString('base64')}` });
    expect(json.status).toBe(200);
    expect(((await json.json()) as any).text).toBe(SENTENCES[0]);
  });

  it('transcribes over two minutes of speech past the chat total limit, within its word error bound', async () => {
    const started = Date.now();
    const result = await client.audio.transcriptions.create({
      file: await toFile(long, 'lecture.wav'),
      model: SPEECH_MODEL,
      response_format: 'verbose_json',
    });
    expect(result.duration).toBeGreaterThanOrEqual(120);
    const wer = wordErrorRate([...SENTENCES, ...SENTENCES].join(' '), result.text);
    process.stdout.write(
      `long transcription through the gateway: ${result.duration.toFixed(1)} s of audio in ${((Date.now() - started) / 1000).toFixed(1)} s, WER ${wer.toFixed(3)}\n`,
    );
    expect(wer).toBeLessThanOrEqual(LONG_WER_BOUND);
  }, 600_000);

  it('embeds through the SDK, as floats and base64', async () => {
    const floats = await client.embeddings.create({
      model: EMBEDDING_MODEL,
      input: ['research data', 'stays on campus'],
      encoding_format: 'float',
    });
    const decoded = await client.embeddings.create({ model: EMBEDDING_MODEL, input: ['research data', 'stays on campus'] });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0].embedding.length).toBeGreaterThan(100);
    expect(decoded.data[0].embedding).toHaveLength(floats.data[0].embedding.length);
    decoded.data[0].embedding.forEach((v, i) => expect(v).toBeCloseTo(floats.data[0].embedding[i], 5));
  });

  it('answers a transcription for a chat-only model with a 400 on `model`', async () => {
    const err = await client.audio.transcriptions
      .create({ file: await toFile(hello, 'hello.wav'), model: CHAT_MODEL })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'model', code: 'unsupported_model_capability' });
    const toEmbedder = await client.chat.completions
      .create({ model: EMBEDDING_MODEL, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(toEmbedder).toMatchObject({ status: 400, param: 'model' });
  });
});
