import { INFERENCE_ROUTES, parseInferenceRequest, REFUSED_FIELDS } from './openai-request';
import { allowedFields, Endpoint, RUNTIME_KINDS, RuntimeKind, unknownField, upstreamPriority } from './request-fields';

const route = (endpoint: Endpoint) => INFERENCE_ROUTES.find((r) => r.endpoint === endpoint)!;
const msgs = [{ role: 'user', content: 'hi' }];
const BASE: Record<Endpoint, Record<string, unknown>> = {
  'chat.completions': { model: 'm', messages: msgs },
  completions: { model: 'm', prompt: 'hi' },
  embeddings: { model: 'm', input: 'hi' },
  ocr: {
    model: 'm',
    image: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  },
  'audio.transcriptions': { model: 'm', file: 'data:audio/wav;base64,UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=' },
};

/** Each kind and endpoint: a field it takes beyond OpenAI's (or none), and one it does not. */
const TABLE: [RuntimeKind, Endpoint, string | undefined, string][] = [
  ['vllm', 'chat.completions', 'guided_json', 'mirostat'],
  ['vllm', 'chat.completions', 'repetition_penalty', 'id_slot'],
  ['vllm', 'completions', 'min_p', 'grammar'],
  ['vllm', 'embeddings', 'truncate_prompt_tokens', 'top_k'],
  ['sim-engine', 'chat.completions', 'min_tokens', 'json_schema'],
  ['sim-engine', 'completions', 'ignore_eos', 'typical_p'],
  ['llama.cpp', 'chat.completions', 'grammar', 'guided_json'],
  ['llama.cpp', 'completions', 'repeat_penalty', 'repetition_penalty'],
  ['llama.cpp', 'embeddings', undefined, 'truncate_prompt_tokens'],
  ['openai-compatible', 'chat.completions', undefined, 'top_k'],
  ['openai-compatible', 'completions', undefined, 'min_tokens'],
  ['tesseract', 'ocr', undefined, 'prompt'],
  ['tesseract', 'chat.completions', undefined, 'guided_json'],
  ['pocketsphinx', 'audio.transcriptions', undefined, 'stream'],
  ['whisper', 'audio.transcriptions', undefined, 'layout'],
];

describe('allowed fields per runtime kind', () => {
  it.each(TABLE)('%s on %s takes OpenAI’s fields and %s, and refuses %s', (kind, endpoint, extension, foreign) => {
    const body = BASE[endpoint];
    expect(unknownField(endpoint, body, kind)).toBeUndefined();
    if (extension) expect(unknownField(endpoint, { ...body, [extension]: 1 }, kind)).toBeUndefined();
    expect(unknownField(endpoint, { ...body, [foreign]: 1 }, kind)).toBe(foreign);
  });

  it('takes OpenAI’s sampling fields on every kind that generates text', () => {
    for (const kind of RUNTIME_KINDS) {
      for (const field of ['temperature', 'top_p', 'stop', 'seed', 'tools', 'response_format', 'logprobs', 'user']) {
        expect({ kind, field, allowed: allowedFields('chat.completions', kind).has(field) }).toEqual({ kind, field, allowed: true });
      }
    }
  });

  it('never takes a refused field, on any kind and endpoint', () => {
    for (const kind of [...RUNTIME_KINDS, 'any'] as const) {
      for (const endpoint of Object.keys(BASE) as Endpoint[]) {
        for (const field of REFUSED_FIELDS)
          expect({ kind, endpoint, field, allowed: allowedFields(endpoint, kind).has(field) }).toMatchObject({ allowed: false });
      }
    }
  });

  it('lets the gateway’s own fields through when it set them', () => {
    expect(unknownField('chat.completions', { ...BASE['chat.completions'], priority: 1 }, 'vllm')).toBe('priority');
    expect(unknownField('chat.completions', { ...BASE['chat.completions'], priority: 1 }, 'vllm', ['priority'])).toBeUndefined();
  });
});

describe('parseInferenceRequest: fields no runtime takes', () => {
  it.each([
    ['chat.completions', 'frobnicate'],
    ['completions', 'guided_whatever'],
    ['embeddings', 'top_k'],
    ['ocr', 'temperature'],
    ['audio.transcriptions', 'languages'],
  ] as [Endpoint, string][])('refuses %s with %s as invalid_request_error naming it', (endpoint, field) => {
    const r = parseInferenceRequest(route(endpoint), Buffer.from(JSON.stringify({ ...BASE[endpoint], [field]: 1 })));
    expect(r).toEqual({
      ok: false,
      error: { model: 'm', message: `unrecognized request argument supplied: ${field}`, param: field, code: 'unknown_parameter' },
    });
  });

  it('takes a field some runtime kind takes (the worker picked decides)', () => {
    for (const [endpoint, field] of [
      ['chat.completions', 'guided_json'],
      ['chat.completions', 'grammar'],
      ['completions', 'repeat_penalty'],
    ] as [Endpoint, string][]) {
      expect(parseInferenceRequest(route(endpoint), Buffer.from(JSON.stringify({ ...BASE[endpoint], [field]: 1 }))).ok).toBe(true);
    }
  });

  it('checks a multipart body’s field names too, array fields by their JSON name', () => {
    const boundary = 'XyZ';
    const form = (fields: [string, string][]) =>
      Buffer.from(
        fields.map(([n, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`).join('') +
          `--${boundary}--\r\n`,
      );
    const file = BASE['audio.transcriptions'].file as string;
    const ok = parseInferenceRequest(
      route('audio.transcriptions'),
      form([
        ['model', 'm'],
        ['file', file.slice(file.indexOf(',') + 1)],
        ['timestamp_granularities[]', 'word'],
      ]),
      `multipart/form-data; boundary=${boundary}`,
    );
    expect(ok).toMatchObject({ ok: true, value: { formFields: ['model', 'file', 'timestamp_granularities'] } });
    const bad = parseInferenceRequest(
      route('audio.transcriptions'),
      form([
        ['model', 'm'],
        ['file', file.slice(file.indexOf(',') + 1)],
        ['priority', '-5'],
      ]),
      `multipart/form-data; boundary=${boundary}`,
    );
    expect(bad).toMatchObject({ ok: false, error: { param: 'priority', code: 'unknown_parameter' } });
  });
});

describe('upstreamPriority', () => {
  it.each([
    ['vllm', 'batch', 1, 1],
    ['sim-engine', 'batch', 3, 3],
    ['vllm', 'interactive', 1, null],
    ['vllm', 'batch', undefined, null],
    ['llama.cpp', 'batch', 1, null],
    ['openai-compatible', 'batch', 1, null],
  ] as [RuntimeKind, 'interactive' | 'batch', number | undefined, number | null][])(
    '%s, %s request, batch priority %s: %s',
    (kind, cls, configured, expected) => {
      expect(upstreamPriority(kind, cls, configured)).toBe(expected);
    },
  );
});
