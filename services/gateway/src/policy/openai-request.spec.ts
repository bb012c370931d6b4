import { INVALID_MODEL } from '@maas/contracts';
import { INFERENCE_ROUTES, jsonNestingExceeds, parseInferenceRequest } from './openai-request';

const [chat, completions, embeddings] = INFERENCE_ROUTES;
const parse = (route: (typeof INFERENCE_ROUTES)[number], body: unknown) =>
  parseInferenceRequest(route, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
const msgs = [{ role: 'user', content: 'hello there' }];

describe('jsonNestingExceeds', () => {
  it('counts brackets outside strings only, escaped quotes included', () => {
    expect(jsonNestingExceeds(Buffer.from('[[["\\"[[[[["]]]'), 3)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from('[[[["x"]]]]'), 3)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from('{"a":"\\\\"}[[[['), 3)).toBe(true); // an escaped backslash ends the string
    expect(jsonNestingExceeds(Buffer.from(JSON.stringify({ a: [{ b: [1, { c: 'x' }] }] })))).toBe(false);
  });
});

describe('parseInferenceRequest', () => {
  it('attributes a request that names no usable model to the one placeholder', () => {
    expect(parse(chat, '{"model":')).toMatchObject({ ok: false, error: { model: INVALID_MODEL } });
    expect(parse(chat, { model: 'a\u0000b', messages: msgs })).toMatchObject({ ok: false, error: { model: INVALID_MODEL } });
  });

  it('reads what the gateway needs from a chat request and keeps the body as sent', () => {
    const body = { model: 'm', messages: msgs, stream: true, stream_options: { include_usage: true }, top_k: 40 };
    const r = parse(chat, body);
    expect(r).toMatchObject({ ok: true, value: { model: 'm', stream: true, includeUsage: true, promptChars: 11, body } });
  });

  it('counts prompt characters of text parts and of completion prompts given as lists', () => {
    const parts = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'abcd' },
          { type: 'image_url', image_url: { url: 'data:' } },
        ],
      },
    ];
    expect(parse(chat, { model: 'm', messages: parts })).toMatchObject({ ok: true, value: { promptChars: 4 } });
    expect(parse(completions, { model: 'm', prompt: ['ab', 'cde'] })).toMatchObject({ ok: true, value: { promptChars: 5, prefix: 'ab' } });
    expect(parse(embeddings, { model: 'm', input: [1, 2, 3] })).toMatchObject({ ok: true, value: { promptChars: 12 } });
  });

  it.each<[string, (typeof INFERENCE_ROUTES)[number], unknown, string | null, string]>([
    ['not JSON', chat, '{"model":', null, 'invalid_json'],
    ['an array body', chat, '[]', null, 'invalid_json'],
    ['no model', chat, { messages: msgs }, 'model', 'missing_required_parameter'],
    ['a numeric model', chat, { model: 3, messages: msgs }, 'model', 'invalid_value'],
    ['a model with NUL', chat, { model: '\u0000', messages: msgs }, 'model', 'invalid_value'],
    ['a model with a lone surrogate', chat, { model: 'q\ud800', messages: msgs }, 'model', 'invalid_value'],
    ['content 5', chat, { model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_value'],
    ['content {}', chat, { model: 'm', messages: [{ role: 'user', content: {} }] }, 'messages[0].content', 'invalid_value'],
    ['content true', chat, { model: 'm', messages: [{ role: 'user', content: true }] }, 'messages[0].content', 'invalid_value'],
    ['content [null]', chat, { model: 'm', messages: [{ role: 'user', content: [null] }] }, 'messages[0].content', 'invalid_value'],
    [
      'a part with numeric text',
      chat,
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 1 }] }] },
      'messages[0].content',
      'invalid_value',
    ],
    ['nesting 100,000 deep', chat, `{"model":"m","messages":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, null, 'invalid_json'],
    ['a string stream flag', chat, { model: 'm', messages: msgs, stream: 'yes' }, 'stream', 'invalid_value'],
    [
      'a bad include_usage',
      chat,
      { model: 'm', messages: msgs, stream: true, stream_options: { include_usage: 1 } },
      'stream_options.include_usage',
      'invalid_value',
    ],
    ['zero max_tokens', chat, { model: 'm', messages: msgs, max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    ['a temperature of 3', chat, { model: 'm', messages: msgs, temperature: 3 }, 'temperature', 'invalid_value'],
    ['no messages', chat, { model: 'm' }, 'messages', 'missing_required_parameter'],
    ['empty messages', chat, { model: 'm', messages: [] }, 'messages', 'invalid_value'],
    ['a message without role', chat, { model: 'm', messages: [{ content: 'x' }] }, 'messages[0].role', 'invalid_value'],
    ['no prompt', completions, { model: 'm' }, 'prompt', 'missing_required_parameter'],
    ['an object prompt', completions, { model: 'm', prompt: { a: 1 } }, 'prompt', 'invalid_value'],
    ['an empty input list', embeddings, { model: 'm', input: [] }, 'input', 'invalid_value'],
    ['streamed embeddings', embeddings, { model: 'm', input: 'x', stream: true }, 'stream', 'invalid_value'],
  ])('refuses %s, naming the field', (_case, route, body, param, code) => {
    const r = parse(route, body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ param, code });
  });

  it('keeps the model of a refused body so usage is attributed to it', () => {
    const r = parse(chat, { model: 'm', messages: [] });
    expect(!r.ok && r.error.model).toBe('m');
  });
});

describe('parseInferenceRequest: what a client may not send to a runtime', () => {
  const part = (p: unknown) => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, p] }] });

  it.each([
    [
      'an image URL',
      { type: 'image_url', image_url: { url: 'http://169.254.169.254/latest/meta-data/' } },
      'messages[0].content[1].image_url.url',
    ],
    ['an image URL given as a string', { type: 'image_url', image_url: 'https://example.org/a.png' }, 'messages[0].content[1].image_url'],
    ['a video URL', { type: 'video_url', video_url: { url: 'file:///etc/passwd' } }, 'messages[0].content[1].video_url.url'],
    ['an audio URL', { type: 'audio_url', audio_url: { url: 'http://10.0.0.5:8000/x.wav' } }, 'messages[0].content[1].audio_url.url'],
    ['an image part with no URL', { type: 'image_url' }, 'messages[0].content[1].image_url'],
  ])('refuses %s: only data: URLs are taken', (_, p, param) => {
    expect(parse(chat, part(p))).toMatchObject({ ok: false, error: { param, code: 'remote_url_not_allowed' } });
  });

  it('takes inline data: URLs of every kind', () => {
    for (const kind of ['image_url', 'video_url', 'audio_url']) {
      expect(parse(chat, part({ type: kind, [kind]: { url: 'data:application/octet-stream;base64,AAAA' } }))).toMatchObject({ ok: true });
    }
  });

  it.each(['priority', 'prompt_embeds', 'chat_template', 'logits_processors', 'kv_transfer_params', 'request_id'])(
    'refuses the engine field %s',
    (field) => {
      expect(parse(chat, { model: 'm', messages: msgs, [field]: field === 'priority' ? -100 : 'x' })).toMatchObject({
        ok: false,
        error: { param: field, code: 'unsupported_parameter' },
      });
      expect(parse(completions, { model: 'm', prompt: 'p', [field]: 'x' })).toMatchObject({ ok: false, error: { param: field } });
    },
  );

  it('takes the priority the batch executor sets itself', () => {
    const raw = Buffer.from(JSON.stringify({ model: 'm', messages: msgs, priority: 1 }));
    expect(parseInferenceRequest(chat, raw, undefined, { gatewayPriority: true })).toMatchObject({ ok: true });
  });
});
