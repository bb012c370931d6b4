import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Logger } from '@maas/logging';
import { asBodyBytes, characterErrorRate } from '@maas/media';
import { DEFAULT_OCR_MODELS, OcrServer, parseModelSpec, startOcrServer } from '@maas/ocr-engine';
import { Degradation, renderText } from './render';
import { requireSystemPart } from '@maas/testing';

// A machine without these parts fails every test here with the reason.
beforeAll(() => requireSystemPart('ocr'));

// Real Tesseract 5.3 on images rendered here. Character error rates measured on this machine
// (tesseract 5.3.0, ImageMagick 6.9 pango, Noto Sans / Noto Sans CJK JP, --psm 6, seed 7):
//   clean 28 pt:                               English 0.000, Sanskrit 0.000, Hindi 0.000, Japanese 0.000
//   degraded 14 pt, blur 1.2, noise 1.0:       English 0.013, Sanskrit 0.023,              Japanese 0.053
// Bounds leave room for other Tesseract/ImageMagick/font builds: clean 0.02 (≈ 3 characters in 150);
// degraded: two to four times the measurement (a handful of characters).
const CLEAN_BOUND = 0.02;
const DEGRADED: Degradation = { pointsize: 14, blur: 1.2, noise: 1.0 };

const ENGLISH =
  "The quick brown fox jumps over the lazy dog.\nResearchers share computing resources across universities.\nThe library opens at nine o'clock on weekdays.";
const SANSKRIT = 'धर्मक्षेत्रे कुरुक्षेत्रे समवेता युयुत्सवः।\nमामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय॥\nसत्यमेव जयते नानृतं सत्येन पन्था विततो देवयानः।';
const HINDI = 'भारत एक विशाल देश है।\nहम पुस्तकालय में पढ़ते हैं।';
const JAPANESE = '東京大学の研究者は計算資源を共有する。\n日本語の文字認識を試験します。\n音声認識と文字認識を一つの窓口で提供する。';
const LATIN_FONT = 'Noto Sans';
const CJK_FONT = 'Noto Sans CJK JP';

const quiet = new Logger('ocr-engine-test', 'error', () => undefined);
let dir: string;
let server: OcrServer;
const images: Record<string, Buffer> = {};

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const dataUrl = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'maas-ocr-test-'));
  images.english = renderText(dir, 'english', ENGLISH, LATIN_FONT);
  images.sanskrit = renderText(dir, 'sanskrit', SANSKRIT, LATIN_FONT);
  images.hindi = renderText(dir, 'hindi', HINDI, LATIN_FONT);
  images.mixed = renderText(dir, 'mixed', `${ENGLISH.split('\n')[0]}\n${SANSKRIT.split('\n')[0]}\n${ENGLISH.split('\n')[2]}`, LATIN_FONT);
  images.japanese = renderText(dir, 'japanese', JAPANESE, CJK_FONT);
  images.englishDegraded = renderText(dir, 'english-degraded', ENGLISH, LATIN_FONT, DEGRADED);
  images.sanskritDegraded = renderText(dir, 'sanskrit-degraded', SANSKRIT, LATIN_FONT, DEGRADED);
  images.japaneseDegraded = renderText(dir, 'japanese-degraded', JAPANESE, CJK_FONT, DEGRADED);
  server = await startOcrServer({ models: DEFAULT_OCR_MODELS.map(parseModelSpec), concurrency: 2, port: 0, logger: quiet });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reading text with Tesseract', () => {
  it.each([
    ['English', 'english', ENGLISH, 'tesseract/eng+Devanagari', CLEAN_BOUND],
    ['Sanskrit', 'sanskrit', SANSKRIT, 'tesseract/eng+Devanagari', CLEAN_BOUND],
    ['Hindi', 'hindi', HINDI, 'tesseract/eng+Devanagari', CLEAN_BOUND],
    ['Japanese', 'japanese', JAPANESE, 'tesseract/jpn', CLEAN_BOUND],
    ['degraded English', 'englishDegraded', ENGLISH, 'tesseract/eng+Devanagari', 0.05],
    ['degraded Sanskrit', 'sanskritDegraded', SANSKRIT, 'tesseract/eng+Devanagari', 0.06],
    ['degraded Japanese', 'japaneseDegraded', JAPANESE, 'tesseract/jpn', 0.12],
  ])('%s within its character error bound', async (_name, image, reference, model, bound) => {
    const { status, json } = await post(`${server.url}/v1/ocr`, { model, image: dataUrl(images[image]) });
    expect(status).toBe(200);
    const cer = characterErrorRate(reference, json.text);
    expect({ cer, text: json.text }).toEqual({ cer: expect.any(Number), text: expect.any(String) });
    expect(cer).toBeLessThanOrEqual(bound);
  });

  it('answers with the documented result shape and usage', async () => {
    const { status, json, headers } = await post(
      `${server.url}/v1/ocr`,
      { model: 'tesseract/eng+Devanagari', image: images.mixed.toString('base64') },
      { 'x-request-id': 'ocr-shape-1' },
    );
    expect(status).toBe(200);
    expect(headers.get('x-request-id')).toBe('ocr-shape-1');
    expect(json).toEqual({
      id: expect.stringMatching(/^ocr-[0-9a-f]{32}$/),
      object: 'ocr.result',
      created: expect.any(Number),
      model: 'tesseract/eng+Devanagari',
      text: expect.any(String),
      languages: ['eng', 'Devanagari'],
      usage: { images: 1, characters: [...json.text.replace(/\s/g, '')].length },
    });
    expect(json.text.split('\n')).toHaveLength(3);
    expect(characterErrorRate(SANSKRIT.split('\n')[0], json.text.split('\n')[1])).toBeLessThanOrEqual(CLEAN_BOUND);
  });

  it('reads with the languages asked for', async () => {
    const { status, json } = await post(`${server.url}/v1/ocr`, { image: dataUrl(images.sanskrit), languages: ['san'] });
    expect(status).toBe(200);
    expect(json.languages).toEqual(['san']);
    expect(characterErrorRate(SANSKRIT, json.text)).toBeLessThanOrEqual(CLEAN_BOUND);
  });

  it('gives lines and words with boxes and confidences', async () => {
    const { json } = await post(`${server.url}/v1/ocr`, { image: dataUrl(images.english), layout: 'words' });
    const [page] = json.pages;
    expect(json.lines).toHaveLength(3);
    expect(json.lines.map((l: any) => l.text).join('\n')).toBe(json.text);
    for (const item of [...json.lines, ...json.words]) {
      expect(item.confidence).toBeGreaterThan(0.5);
      expect(item.confidence).toBeLessThanOrEqual(1);
      expect(item.bbox.left + item.bbox.width).toBeLessThanOrEqual(page.width);
      expect(item.bbox.top + item.bbox.height).toBeLessThanOrEqual(page.height);
    }
    expect(json.words.filter((w: any) => w.line === 0).map((w: any) => w.text)).toEqual([
      'The',
      'quick',
      'brown',
      'fox',
      'jumps',
      'over',
      'the',
      'lazy',
      'dog.',
    ]);
    // Lines run top to bottom.
    expect(json.lines[0].bbox.top).toBeLessThan(json.lines[1].bbox.top);
    const lines = await post(`${server.url}/v1/ocr`, { image: dataUrl(images.english), layout: 'lines' });
    expect(lines.json.lines).toHaveLength(3);
    expect(lines.json.words).toBeUndefined();
  });

  it('accepts the image as a multipart file part', async () => {
    const form = new FormData();
    form.append('model', 'tesseract/jpn');
    form.append('image', new Blob([asBodyBytes(images.japanese)], { type: 'application/octet-stream' }), 'page.png');
    const res = await fetch(`${server.url}/v1/ocr`, { method: 'POST', body: form });
    const json: any = await res.json();
    expect(res.status).toBe(200);
    expect(characterErrorRate(JAPANESE, json.text)).toBeLessThanOrEqual(CLEAN_BOUND);
  });
});

describe('OCR through chat completions (OpenAI vision format)', () => {
  const messages = (...images: Buffer[]) => [
    { role: 'system', content: 'You read documents.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What does this say?' },
        ...images.map((png) => ({ type: 'image_url', image_url: { url: dataUrl(png), detail: 'high' } })),
      ],
    },
  ];

  it('answers with the text read from the images', async () => {
    const { status, json } = await post(`${server.url}/v1/chat/completions`, {
      model: 'tesseract/eng+Devanagari',
      messages: messages(images.english, images.sanskrit),
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      object: 'chat.completion',
      model: 'tesseract/eng+Devanagari',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant' } }],
    });
    const [english, sanskrit] = json.choices[0].message.content.split('\n\n');
    expect(characterErrorRate(ENGLISH, english)).toBeLessThanOrEqual(CLEAN_BOUND);
    expect(characterErrorRate(SANSKRIT, sanskrit)).toBeLessThanOrEqual(CLEAN_BOUND);
    // 85 per image + ceil(bytes / 4) of the text parts; the answer at ceil(UTF-8 bytes / 4).
    const prompt = 2 * 85 + Math.ceil(Buffer.byteLength('You read documents.\nWhat does this say?') / 4);
    const completion = Math.ceil(Buffer.byteLength(json.choices[0].message.content) / 4);
    expect(json.usage).toEqual({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });
  });

  it('streams for chat UIs, with usage when asked', async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tesseract/jpn',
        stream: true,
        stream_options: { include_usage: true },
        messages: messages(images.japanese),
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((e) => e.replace(/^data: /, ''));
    expect(events.pop()).toBe('[DONE]');
    const chunks = events.map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(characterErrorRate(JAPANESE, text)).toBeLessThanOrEqual(CLEAN_BOUND);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1).usage.completion_tokens).toBe(Math.ceil(Buffer.byteLength(text) / 4));
  });

  it('says what is missing when there is no image', async () => {
    const { status, json } = await post(`${server.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hello' }] });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ param: 'messages', code: 'missing_image', type: 'invalid_request_error' });
  });

  it('refuses remote image URLs, naming the part', async () => {
    const { status, json } = await post(`${server.url}/v1/chat/completions`, {
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.org/scan.png' } }] }],
    });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ param: 'messages[0].content[0].image_url.url', code: 'unsupported_url' });
  });
});

describe('request errors', () => {
  it.each([
    ['invalid base64', { image: 'not base64!' }, 400, 'image', 'invalid_base64'],
    ['a data URL without base64', { image: 'data:image/png,abc' }, 400, 'image', 'invalid_base64'],
    [
      'audio where an image belongs',
      { image: Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), Buffer.alloc(64)]).toString('base64') },
      400,
      'image',
      'unsupported_media_type',
    ],
    ['no image', { model: 'tesseract/jpn' }, 400, 'image', 'missing_required_parameter'],
    ['an unknown layout', { image: 'iVBORw0KGgo=', layout: 'blocks' }, 400, 'layout', 'invalid_value'],
    ['an empty image', { image: dataUrl(Buffer.alloc(0)) }, 400, 'image', 'empty_file'],
  ])('%s → %i naming %s', async (_name, body, status, param, code) => {
    const res = await post(`${server.url}/v1/ocr`, body);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ param, code, type: 'invalid_request_error', message: expect.any(String) });
  });

  it('400 when the bytes look like an image but do not decode', async () => {
    const broken = Buffer.concat([images.english.subarray(0, 8), Buffer.alloc(200)]);
    const res = await post(`${server.url}/v1/ocr`, { image: broken.toString('base64') });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'image', code: 'invalid_image' });
  });

  it('names a language that is not installed', async () => {
    const res = await post(`${server.url}/v1/ocr`, { image: dataUrl(images.english), languages: ['eng', 'xyz'] });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'languages', code: 'unsupported_language' });
    expect(res.json.error.message).toContain('"xyz"');
  });

  it('answers 404 for a model it does not serve, 404/405 for routes', async () => {
    const res = await post(`${server.url}/v1/ocr`, { model: 'trocr-large', image: dataUrl(images.english) });
    expect([res.status, res.json.error.code, res.json.error.param]).toEqual([404, 'model_not_found', 'model']);
    expect((await fetch(`${server.url}/v1/ocr`)).status).toBe(405);
    expect((await fetch(`${server.url}/v1/nothing`)).status).toBe(404);
  });

  it('refuses bad JSON and unsupported content types', async () => {
    const bad = await post(`${server.url}/v1/ocr`, '{"image":');
    expect([bad.status, bad.json.error.code]).toEqual([400, 'invalid_json']);
    const res = await fetch(`${server.url}/v1/ocr`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: asBodyBytes(images.english),
    });
    expect(res.status).toBe(415);
  });

  describe('size limits', () => {
    let small: OcrServer;
    beforeAll(async () => {
      small = await startOcrServer({
        models: [parseModelSpec('tesseract/eng+Devanagari')],
        concurrency: 1,
        port: 0,
        logger: quiet,
        maxImageBytes: 4096,
      });
    });
    afterAll(() => small.close());

    it('413 names the field when the decoded image is over the limit', async () => {
      expect(images.english.length).toBeGreaterThan(4096);
      const res = await post(`${small.url}/v1/ocr`, { image: dataUrl(images.english) });
      expect(res.status).toBe(413);
      expect(res.json.error).toMatchObject({ param: 'image', code: 'payload_too_large', type: 'invalid_request_error' });
      expect(res.json.error.message).toMatch(/limit is 4 KiB/);
    });

    it('413 for a body over the limit, before reading it', async () => {
      const res = await post(`${small.url}/v1/ocr`, { image: 'A'.repeat(2 * 1024 * 1024) });
      expect(res.status).toBe(413);
      expect(res.json.error.code).toBe('payload_too_large');
    });

    it('413 for a multipart file over the limit', async () => {
      const form = new FormData();
      form.append('image', new Blob([asBodyBytes(images.english)]), 'page.png');
      const res = await fetch(`${small.url}/v1/ocr`, { method: 'POST', body: form });
      expect(res.status).toBe(413);
      expect(((await res.json()) as any).error.param).toBe('image');
    });
  });
});

describe('serving', () => {
  it('lists its models with capabilities and languages', async () => {
    const json: any = await (await fetch(`${server.url}/v1/models`)).json();
    expect(json.data.map((m: any) => [m.id, m.object, m.capabilities, m.languages])).toEqual([
      ['tesseract/eng+Devanagari', 'model', ['ocr', 'chat'], ['eng', 'Devanagari']],
      ['tesseract/jpn', 'model', ['ocr', 'chat'], ['jpn']],
    ]);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('exposes vLLM-named load gauges: requests beyond the pool wait', async () => {
    const one = await startOcrServer({ models: [parseModelSpec('tesseract/eng+Devanagari')], concurrency: 1, port: 0, logger: quiet });
    try {
      const requests = [1, 2, 3].map(() => post(`${one.url}/v1/ocr`, { image: dataUrl(images.english) }));
      let seen = { running: 0, waiting: 0 };
      for (let i = 0; i < 100 && seen.waiting === 0; i += 1) {
        const metrics = await (await fetch(`${one.url}/metrics`)).text();
        const gauge = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
        seen = { running: gauge('vllm:num_requests_running'), waiting: gauge('vllm:num_requests_waiting') };
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen.running).toBe(1);
      expect(seen.waiting).toBeGreaterThanOrEqual(1);
      expect((await Promise.all(requests)).map((r) => r.status)).toEqual([200, 200, 200]);
      const after = await (await fetch(`${one.url}/metrics`)).text();
      expect(after).toMatch(/^vllm:num_requests_running\{model_name="tesseract\/eng\+Devanagari"\} 0$/m);
      expect(after).toMatch(/^vllm:request_success_total\{model_name="tesseract\/eng\+Devanagari"\} 3$/m);
      expect(after).toMatch(/^maas_runtime_requests_total\{model_name="tesseract\/eng\+Devanagari",path="\/v1\/ocr",status="200"\} 3$/m);
      expect(after).toMatch(/^vllm:e2e_request_latency_seconds_count\{model_name="tesseract\/eng\+Devanagari"\} 3$/m);
    } finally {
      await one.close();
    }
  });

  it('cancels queued and running jobs when their clients disconnect', async () => {
    const page = renderText(
      dir,
      'page',
      Array.from({ length: 40 }, (_, i) => `${i + 1}. ${ENGLISH.replace(/\n/g, ' ')}`).join('\n'),
      LATIN_FONT,
    );
    const one = await startOcrServer({ models: [parseModelSpec('tesseract/eng+Devanagari')], concurrency: 1, port: 0, logger: quiet });
    try {
      const started = Date.now();
      const clients = [new AbortController(), new AbortController()];
      const requests = clients.map((c) =>
        fetch(`${one.url}/v1/ocr`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ image: dataUrl(page) }),
          signal: c.signal,
        }).catch((e: Error) => e.name),
      );
      while (one.pool.runningJobs + one.pool.waitingJobs < 2) await new Promise((r) => setTimeout(r, 10));
      expect([one.pool.runningJobs, one.pool.waitingJobs]).toEqual([1, 1]);
      clients[1].abort();
      clients[0].abort();
      while (one.pool.runningJobs + one.pool.waitingJobs > 0) await new Promise((r) => setTimeout(r, 10));
      // A 40-line page takes seconds to read here; the killed job frees its slot at once.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(await Promise.all(requests)).toEqual(['AbortError', 'AbortError']);
      const done = await post(`${one.url}/v1/ocr`, { image: dataUrl(images.english) });
      expect(done.status).toBe(200);
    } finally {
      await one.close();
    }
  });
});

describe('maas ocr-engine', () => {
  it('prints a ready line with its URL, serves, and stops on SIGTERM', async () => {
    const root = path.resolve(__dirname, '../../..');
    // The transpiled CLI (jest's global setup builds dist/), run the way bin/maas.js runs it.
    const cli = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(path.join(root, 'dist/cli/main.js'))}).main(['ocr-engine','--port','0','--model','vedic=san+eng']).then((c)=>{process.exitCode=c})`,
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
    expect(ready.models).toEqual(['vedic']);
    const models: any = await (await fetch(`${ready.url}/v1/models`)).json();
    expect(models.data[0]).toMatchObject({ id: 'vedic', languages: ['san', 'eng'] });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    cli.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
