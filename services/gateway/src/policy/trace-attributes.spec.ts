import { INFERENCE_ROUTES, InferenceRoute } from './openai-request';
import { AccountedRequest, accountedAttributes, genAiOperation, httpRoute, requestAttributes } from './trace-attributes';

const route = (endpoint: InferenceRoute['endpoint']) => INFERENCE_ROUTES.find((r) => r.endpoint === endpoint)!;

const accounted = (over: Partial<AccountedRequest> = {}): AccountedRequest => ({
  endpoint: 'chat.completions',
  requestId: 'req-1',
  model: 'qwen',
  workerId: 'w1',
  kind: 'interactive',
  status: 200,
  errorCode: null,
  promptTokens: 12,
  completionTokens: 5,
  countedBy: 'runtime',
  ttftMs: null,
  latencyMs: 900,
  ...over,
});

describe('httpRoute', () => {
  it.each([
    ['/v1/chat/completions', '/v1/chat/completions'],
    ['/v1/models', '/v1/models'],
    ['/v1/models/Qwen/Qwen2.5-3B-Instruct', '/v1/models/{model}'],
    ['/v1/files/file-abc/content', '/v1/files/{id}/content'],
    ['/v1/batches/batch_1/cancel', '/v1/batches/{id}/cancel'],
    ['/v1/batches/batch_1', '/v1/batches/{id}'],
    ['/v1/whatever/x', undefined],
    ['/v1/files/a/b/c', undefined],
    ['/v1/files/', undefined],
  ])('%s → %s', (path, expected) => {
    expect(httpRoute(path)).toBe(expected);
  });
});

describe('GenAI attributes', () => {
  it.each([
    ['chat.completions', 'chat'],
    ['completions', 'text_completion'],
    ['embeddings', 'embeddings'],
    ['ocr', 'generate_content'],
    ['audio.transcriptions', 'generate_content'],
  ] as const)('%s is the %s operation', (endpoint, operation) => {
    expect(genAiOperation(endpoint)).toBe(operation);
  });

  it('takes the sampling parameters a client gave, and only those', () => {
    expect(
      requestAttributes(route('chat.completions'), {
        model: 'qwen',
        stream: true,
        body: { max_tokens: 64, temperature: 0, top_p: 0.9, stop: 'END', n: 1 },
      }),
    ).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'qwen',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.temperature': 0,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stop_sequences': ['END'],
      'maas.request.stream': true,
    });
    expect(
      requestAttributes(route('completions'), {
        model: 'qwen',
        stream: false,
        body: { max_completion_tokens: 7, temperature: 'hot', n: 3 },
      }),
    ).toEqual({
      'gen_ai.operation.name': 'text_completion',
      'gen_ai.request.model': 'qwen',
      'gen_ai.request.max_tokens': 7,
      'gen_ai.request.choice.count': 3,
    });
  });

  it('reports usage, the worker and the served model of a successful request', () => {
    expect(accountedAttributes(accounted({ servedModel: 'qwen-upstream' }))).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'qwen',
      'gen_ai.response.model': 'qwen-upstream',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 5,
      'http.response.status_code': 200,
      'maas.request.id': 'req-1',
      'maas.request.kind': 'interactive',
      'maas.usage.counted_by': 'runtime',
      'maas.worker.id': 'w1',
    });
  });

  it('derives TPOT from TTFT and the output tokens after the first', () => {
    const a = accountedAttributes(accounted({ ttftMs: 100, latencyMs: 900, completionTokens: 5 }));
    expect(a['gen_ai.server.time_to_first_token']).toBe(0.1);
    expect(a['gen_ai.server.time_per_output_token']).toBeCloseTo(0.2);
    expect(accountedAttributes(accounted({ ttftMs: 100, completionTokens: 1 }))).not.toHaveProperty('gen_ai.server.time_per_output_token');
  });

  it('names the OpenAI error code of a failed request and claims no response model', () => {
    const a = accountedAttributes(
      accounted({ status: 429, errorCode: 'rpm_exceeded', workerId: null, promptTokens: 0, completionTokens: 0 }),
    );
    expect(a).toMatchObject({ 'error.type': 'rpm_exceeded', 'http.response.status_code': 429 });
    expect(a).not.toHaveProperty('gen_ai.response.model');
    expect(accountedAttributes(accounted({ status: 502, workerId: 'w1' }))).toMatchObject({ 'error.type': '502' });
  });
});
