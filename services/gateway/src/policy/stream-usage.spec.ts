import { INFERENCE_ROUTES } from './openai-request';
import { askForStreamUsage, UsageChunkFilter } from './stream-usage';

const chat = INFERENCE_ROUTES.find((r) => r.endpoint === 'chat.completions')!;
const embeddings = INFERENCE_ROUTES.find((r) => r.endpoint === 'embeddings')!;
const asked = (body: Record<string, unknown>, route = chat, raw = Buffer.from(JSON.stringify(body))) => {
  const got = askForStreamUsage(route, body, raw);
  return { body: JSON.parse(got.raw.toString()) as Record<string, unknown>, strip: got.strip, raw: got.raw };
};

describe('askForStreamUsage', () => {
  it.each([
    ['a stream without stream_options', { model: 'm', stream: true }, { include_usage: true }, true],
    [
      'a stream with other options',
      { model: 'm', stream: true, stream_options: { continuous_usage_stats: false } },
      { continuous_usage_stats: false, include_usage: true },
      true,
    ],
    ['a stream that declines usage', { model: 'm', stream: true, stream_options: { include_usage: false } }, { include_usage: true }, true],
    ['a stream that asks for usage', { model: 'm', stream: true, stream_options: { include_usage: true } }, { include_usage: true }, false],
    ['a request that is not streamed', { model: 'm' }, undefined, false],
    ['stream_options null (left as sent)', { model: 'm', stream: true, stream_options: null }, null, false],
  ])('%s', (_, body, options, strip) => {
    const got = asked(body);
    expect(got.body.stream_options).toEqual(options);
    expect(got.strip).toBe(strip);
  });

  it('leaves other endpoints, and bodies it does not change, as the same bytes', () => {
    expect(asked({ model: 'm', stream: true, input: 'x' }, embeddings).strip).toBe(false);
    for (const body of [
      { model: 'm', stream: true, stream_options: { include_usage: true } },
      { model: 'm', stream: false },
    ]) {
      const raw = Buffer.from(JSON.stringify(body));
      expect(askForStreamUsage(chat, body, raw).raw).toBe(raw);
    }
  });

  it('adds the option to a body without one as it was written (whitespace, key order, every other value kept)', () => {
    const text = ' \n {\n  "model": "m", "stream": true, "messages": [{"role": "user", "content": "{é}"}], "n": 1}\n';
    const body = JSON.parse(text) as Record<string, unknown>;
    const got = asked(body, chat, Buffer.from(text));
    expect(got.strip).toBe(true);
    expect(got.body).toEqual({ ...body, stream_options: { include_usage: true } });
    expect(got.raw.toString()).toBe(text.replace('{', '{"stream_options":{"include_usage":true},'));
  });
});

describe('UsageChunkFilter', () => {
  const usage = 'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n';
  const text = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n';
  const usageNull = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"usage"}}],"usage":null}\n\n';

  it('drops the usage-only event and keeps everything else byte for byte, however the bytes are cut', () => {
    const stream = text + usageNull + usage + 'data: [DONE]\n\n';
    const expected = text + usageNull + 'data: [DONE]\n\n';
    for (const size of [1, 3, 7, 64, stream.length]) {
      const f = new UsageChunkFilter();
      let out = '';
      for (let i = 0; i < stream.length; i += size) out += f.push(Buffer.from(stream.slice(i, i + size)));
      expect(out + f.end()).toBe(expected);
    }
  });

  it('keeps a chunk that carries choices and usage, and multi-byte text split across chunks', () => {
    const both = 'data: {"choices":[{"index":0,"delta":{"content":"é日本"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}\r\n\r\n';
    const bytes = Buffer.from(both);
    const f = new UsageChunkFilter();
    expect(f.push(bytes.subarray(0, 45)) + f.push(bytes.subarray(45)) + f.end()).toBe(both);
  });
});
