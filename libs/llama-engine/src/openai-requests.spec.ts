import { ApiError, refusalOf as error } from '@maas/openai-wire';
import { parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, parseTokenizeRequest } from './openai-requests';

const chat = (extra: Record<string, unknown>) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('parseChatRequest', () => {
  it('takes OpenAI defaults', () => {
    expect(parseChatRequest(chat({}))).toEqual({
      model: 'm',
      stream: false,
      includeUsage: false,
      sampling: { temperature: 1, topP: 1, topK: 0, minP: 0 },
      stop: [],
      ignoreEos: false,
      messages: [{ role: 'user', text: 'hi' }],
    });
  });

  it('reads sampling, limits, stops and streaming options', () => {
    const r = parseChatRequest(
      chat({
        temperature: 0,
        top_p: 0.5,
        seed: -1,
        max_tokens: 9,
        max_completion_tokens: 4,
        stop: 'END',
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(r).toMatchObject({
      maxTokens: 4,
      stop: ['END'],
      stream: true,
      includeUsage: true,
      sampling: { temperature: 0, topP: 0.5, seed: 4294967295 },
    });
  });

  it('maps developer to system and joins text parts', () => {
    const r = parseChatRequest({
      messages: [
        { role: 'developer', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
    });
    expect(r.messages).toEqual([
      { role: 'system', text: 'be brief' },
      { role: 'user', text: 'ab' },
    ]);
  });

  it.each([
    ['temperature', chat({ temperature: 2.5 }), 'temperature'],
    ['top_p of 0', chat({ top_p: 0 }), 'top_p'],
    ['max_tokens 0', chat({ max_tokens: 0 }), 'max_tokens'],
    ['max_tokens not an integer', chat({ max_tokens: 1.5 }), 'max_tokens'],
    ['seed as text', chat({ seed: '7' }), 'seed'],
    ['five stops', chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop'],
    ['an empty stop', chat({ stop: [''] }), 'stop'],
    ['stream_options without stream', chat({ stream_options: { include_usage: true } }), 'stream_options'],
    ['n > 1', chat({ n: 2 }), 'n'],
    ['tools', chat({ tools: [{ type: 'function', function: { name: 'f' } }] }), 'tools'],
    ['json mode', chat({ response_format: { type: 'json_object' } }), 'response_format'],
    ['no messages', { messages: [] }, 'messages'],
    ['a tool message', { messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    [
      'an image part',
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:' } }] }] },
      'messages[0].content[0].type',
    ],
    ['a model that is not a string', chat({ model: 3 }), 'model'],
  ])('refuses %s naming the field', (_name, body, param) => {
    const err = error(() => parseChatRequest(body));
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.param]).toEqual([400, param]);
  });

  it('refuses a body that is not an object', () => {
    expect(error(() => parseChatRequest([])).status).toBe(400);
  });
});

describe('parseCompletionRequest', () => {
  it('takes text, token ids, or a one-element batch of either', () => {
    expect(parseCompletionRequest({ prompt: 'x' }).prompt).toBe('x');
    expect(parseCompletionRequest({ prompt: [1, 2] }).prompt).toEqual([1, 2]);
    expect(parseCompletionRequest({ prompt: ['x'] }).prompt).toBe('x');
    expect(parseCompletionRequest({ prompt: [[3]] }).prompt).toEqual([3]);
  });

  it.each([
    ['an empty prompt', { prompt: '' }, 'prompt'],
    ['a batch of prompts', { prompt: ['a', 'b'] }, 'prompt'],
    ['echo', { prompt: 'a', echo: true }, 'echo'],
  ])('refuses %s', (_name, body, param) => {
    expect(error(() => parseCompletionRequest(body)).param).toBe(param);
  });
});

describe('parseEmbeddingRequest', () => {
  it('takes a string, a batch, or token ids', () => {
    expect(parseEmbeddingRequest({ input: 'a' })).toEqual({ inputs: ['a'], encoding: 'float' });
    expect(parseEmbeddingRequest({ input: ['a', 'b'], encoding_format: 'base64' })).toMatchObject({
      inputs: ['a', 'b'],
      encoding: 'base64',
    });
    expect(parseEmbeddingRequest({ input: [1, 2] }).inputs).toEqual([[1, 2]]);
    expect(parseEmbeddingRequest({ input: [[1], [2]] }).inputs).toEqual([[1], [2]]);
  });

  it.each([
    ['no input', {}, 'input'],
    ['an empty string in a batch', { input: ['a', ''] }, 'input'],
    ['too many inputs', { input: Array.from({ length: 2049 }, () => 'a') }, 'input'],
    ['another encoding', { input: 'a', encoding_format: 'int8' }, 'encoding_format'],
    ['zero dimensions', { input: 'a', dimensions: 0 }, 'dimensions'],
  ])('refuses %s', (_name, body, param) => {
    expect(error(() => parseEmbeddingRequest(body)).param).toBe(param);
  });
});

describe('parseTokenizeRequest', () => {
  it('takes a prompt or messages', () => {
    expect(parseTokenizeRequest({ prompt: 'a' })).toEqual({ prompt: 'a', addSpecialTokens: true });
    expect(parseTokenizeRequest({ messages: [{ role: 'user', content: 'a' }] })).toEqual({ messages: [{ role: 'user', text: 'a' }] });
    expect(error(() => parseTokenizeRequest({})).param).toBe('prompt');
  });
});
