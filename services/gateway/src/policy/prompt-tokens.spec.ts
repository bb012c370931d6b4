import { getEncoding } from 'js-tiktoken';
import { seededRng } from '@maas/random';
import { INFERENCE_ROUTES } from './openai-request';
import {
  chatPromptTokens,
  completionTextTokens,
  countTextTokens,
  IMAGE_PART_TOKENS,
  MAX_TOKENIZED_CHARS,
  MEDIA_PART_TOKENS,
  parseTokenizerMap,
  promptTokens,
  REPLY_PRIMING_TOKENS,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_NAME,
  tokenizerFor,
} from './prompt-tokens';

// The reference: js-tiktoken's own full build, loaded independently of the gateway's lazy encoder.
const o200k = getEncoding('o200k_base');
const cl100k = getEncoding('cl100k_base');
const ref = (text: string, enc = o200k) => enc.encode(text, [], []).length;
const route = (endpoint: string) => INFERENCE_ROUTES.find((r) => r.endpoint === endpoint)!;

describe('countTextTokens', () => {
  it.each([
    ['English', 'The quick brown fox jumps over the lazy dog.'],
    ['Japanese', '東京大学の計算機センターで大規模言語モデルを提供しています。'],
    ['code', 'function add(a: number, b: number): number {\n  return a + b;\n}\n'],
    ['a special token as plain text', 'say <|endoftext|> and <|im_start|> literally'],
    ['emoji and combining marks', '👩‍💻 café naïve'],
  ])('counts %s exactly as the tokenizer does', (_what, text) => {
    expect(countTextTokens(text)).toBe(ref(text));
    expect(countTextTokens(text, 'cl100k_base')).toBe(ref(text, cl100k));
  });

  it('agrees with the tokenizer on 300 seeded strings mixing scripts, digits, emoji, punctuation and whitespace', () => {
    const rng = seededRng(20261207);
    const alphabet = [
      'the ',
      'Tokyo',
      'naïve ',
      '東京大学',
      'の',
      '計算機',
      'センター',
      '한국어',
      'ру́сский ',
      'العربية',
      '👩‍💻',
      '🎉',
      '12345',
      '3.14',
      '\n\n',
      '\t',
      '  ',
      '{"a":[1,2]}',
      '<|endoftext|>',
      "'s",
      '...',
      '——',
      'ｱｲｳ',
      '\u0301',
    ];
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 1 + Math.floor(rng() * 40) }, () => alphabet[Math.floor(rng() * alphabet.length)]).join('');
      expect({ text, o200k: countTextTokens(text), cl100k: countTextTokens(text, 'cl100k_base') }).toEqual({
        text,
        o200k: ref(text),
        cl100k: ref(text, cl100k),
      });
    }
  });

  it('differs between tokenizers where their vocabularies differ, and counts nothing for nothing', () => {
    const text = '大規模言語モデルの推論サービス';
    expect(countTextTokens(text, 'o200k_base')).not.toBe(countTextTokens(text, 'cl100k_base'));
    expect(countTextTokens('')).toBe(0);
  });
});

describe('chatPromptTokens', () => {
  const base = (messages: unknown[], extra: Record<string, unknown> = {}) => ({ model: 'm', messages, ...extra });

  it('counts each message’s role and text with the template overhead, and the reply priming', () => {
    const body = base([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is 2+2?', name: 'ada' },
    ]);
    const expected =
      REPLY_PRIMING_TOKENS +
      2 * TOKENS_PER_MESSAGE +
      ref('system') +
      ref('You are terse.') +
      ref('user') +
      ref('What is 2+2?') +
      ref('ada') +
      TOKENS_PER_NAME;
    expect(chatPromptTokens(body)).toBe(expected);
  });

  it('counts text parts of multi-part messages, and each image or other media part at its fixed cost', () => {
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
    const body = base([
      {
        role: 'user',
        content: [{ type: 'text', text: 'Describe these.' }, image, image, { type: 'text', text: ' Briefly.' }, audio],
      },
    ]);
    const expected =
      REPLY_PRIMING_TOKENS +
      TOKENS_PER_MESSAGE +
      ref('user') +
      ref('Describe these.') +
      ref(' Briefly.') +
      2 * IMAGE_PART_TOKENS +
      MEDIA_PART_TOKENS;
    expect(chatPromptTokens(body)).toBe(expected);
    // The image's bytes do not count as text: a larger image costs the same.
    const big = base([{ role: 'user', content: [{ ...image, image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] }]);
    const small = base([{ role: 'user', content: [image] }]);
    expect(chatPromptTokens(big)).toBe(chatPromptTokens(small));
  });

  it('counts tool definitions, the assistant’s tool calls and the tool results', () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather of a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    const messages = [
      { role: 'user', content: 'Weather in Kyoto?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Kyoto"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":21}' },
    ];
    const withoutTools = chatPromptTokens(base(messages));
    expect(withoutTools).toBe(
      REPLY_PRIMING_TOKENS +
        3 * TOKENS_PER_MESSAGE +
        ref('user') +
        ref('Weather in Kyoto?') +
        ref('assistant') +
        ref('get_weather') +
        ref('{"city":"Kyoto"}') +
        ref('tool') +
        ref('{"temp_c":21}'),
    );
    expect(chatPromptTokens(base(messages, { tools }))).toBe(withoutTools + ref(JSON.stringify(tools)));
    expect(chatPromptTokens(base(messages, { tools }), 'cl100k_base')).toBe(
      chatPromptTokens(base(messages), 'cl100k_base') + ref(JSON.stringify(tools), cl100k),
    );
    expect(chatPromptTokens(base(messages, { functions: tools.map((t) => t.function) }))).toBe(
      withoutTools + ref(JSON.stringify(tools.map((t) => t.function))),
    );
  });
});

describe('promptTokens', () => {
  it('counts a completion prompt’s text, token ids as given, and every embeddings input', () => {
    expect(promptTokens(route('completions'), { prompt: 'Once upon a time' })).toBe(ref('Once upon a time'));
    expect(promptTokens(route('completions'), { prompt: [1, 2, 3, 4, 5] })).toBe(5);
    expect(promptTokens(route('embeddings'), { input: ['one thing', 'another thing', [7, 8]] })).toBe(
      ref('one thing') + ref('another thing') + 2,
    );
    expect(promptTokens(route('ocr'), { image: 'data:...' })).toBe(0);
  });
});

describe('the bound on tokenized text', () => {
  it('tokenizes the first MAX_TOKENIZED_CHARS of a request and counts the rest at the rate measured on them', () => {
    const unit = 'Tokenizers split text into pieces; 東京 and naïve words too. ';
    const text = unit.repeat(Math.ceil((2 * MAX_TOKENIZED_CHARS) / unit.length));
    const head = ref(text.slice(0, MAX_TOKENIZED_CHARS));
    const expected = head + Math.ceil((text.length - MAX_TOKENIZED_CHARS) * (head / MAX_TOKENIZED_CHARS));
    expect(completionTextTokens(text)).toBe(expected);
    // The bound is shared by every text of the request: the second input is counted at the measured rate.
    const first = text.slice(0, MAX_TOKENIZED_CHARS);
    expect(promptTokens(route('embeddings'), { input: [first, 'tail text'] })).toBe(head + Math.ceil(9 * (head / MAX_TOKENIZED_CHARS)));
    // Near the exact count, for repetitive text.
    expect(Math.abs(expected - ref(text)) / ref(text)).toBeLessThan(0.01);
  });
});

describe('loading a table', () => {
  it('goes a slice at a time, and a count before the table is whole finishes the load', () => {
    const text = 'Slices of a table: 東京 and naïve code() {}';
    jest.isolateModules(() => {
      const fresh = require('./prompt-tokens') as typeof import('./prompt-tokens');
      expect(fresh.tokenizerLoaded('cl100k_base')).toBe(false);
      let slices = 1;
      while (!fresh.loadTokenizerSlice('cl100k_base', 20_000)) slices += 1;
      expect(slices).toBeGreaterThan(1);
      expect(fresh.tokenizerLoaded('cl100k_base')).toBe(true);
      expect(fresh.countTextTokens(text, 'cl100k_base')).toBe(ref(text, cl100k));

      expect(fresh.loadTokenizerSlice('o200k_base', 1000)).toBe(false);
      expect(fresh.tokenizerLoaded('o200k_base')).toBe(false);
      expect(fresh.countTextTokens(text)).toBe(ref(text));
      expect(fresh.tokenizerLoaded('o200k_base')).toBe(true);
    });
  });
});

describe('parseTokenizerMap', () => {
  it('names a tokenizer per model, with a default for the others', () => {
    const map = parseTokenizerMap('Qwen/Qwen2.5-3B-Instruct=cl100k_base, *=o200k_base', 'GATEWAY_TOKENIZERS');
    expect(tokenizerFor(map, 'Qwen/Qwen2.5-3B-Instruct')).toBe('cl100k_base');
    expect(tokenizerFor(map, 'other')).toBe('o200k_base');
    expect(tokenizerFor(parseTokenizerMap('', 'K'), 'any')).toBe('o200k_base');
  });

  it.each([['m=gpt2'], ['=o200k_base'], ['m'], ['m=o200k_base,m=cl100k_base']])('refuses %j naming the variable', (raw) => {
    expect(() => parseTokenizerMap(raw, 'GATEWAY_TOKENIZERS')).toThrow(/^GATEWAY_TOKENIZERS: /);
  });
});
