import { ESTIMATE, MAX_BATCH_REQUESTS, outputLine, parseBatchInput, parseBatchInputAsync } from './batch-input';
import { spareBatchSlots } from '@maas/routing';

const line = (id: string, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'm', messages: [{ role: 'user', content: 'abcd'.repeat(10) }] },
    ...over,
  });
const any = () => undefined;

describe('parseBatchInput', () => {
  it('accepts good lines, skipping blank ones, and estimates input tokens', () => {
    const parsed = parseBatchInput(Buffer.from(`${line('a')}\n\n${line('b')}\n`), '/v1/chat/completions', any);
    expect(parsed).toMatchObject({
      ok: true,
      lines: [
        { line: 1, customId: 'a', model: 'm' },
        { line: 3, customId: 'b' },
      ],
    });
    expect(parsed.ok && parsed.inputTokens).toBeGreaterThanOrEqual(20);
  });

  it.each([
    ['{oops', 'invalid_json_line'],
    [line('a', { method: 'GET' }), 'invalid_method'],
    [line('a', { url: '/v1/embeddings' }), 'invalid_url'],
    [line('a', { body: { messages: [] } }), 'missing_required_parameter'],
    [JSON.stringify({ method: 'POST' }), 'missing_required_parameter'],
    [
      `{"custom_id":"deep","method":"POST","url":"/v1/chat/completions","body":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      'invalid_json_line',
    ],
    [line('a', { body: { model: '\u0000', messages: [{ role: 'user', content: 'x' }] } }), 'invalid_value'],
    [line('a\u0000'), 'invalid_value'],
  ])('names the line of %s (%s)', (bad, code) => {
    const parsed = parseBatchInput(Buffer.from(`${line('ok')}\n${bad}`), '/v1/chat/completions', any);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors[0]).toMatchObject({ line: 2, code });
  });

  it('escapes control characters the client sent in its error messages (they are stored and shown)', () => {
    const parsed = parseBatchInput(Buffer.from([line('a\u0001'), line('a\u0001')].join('\n')), '/v1/chat/completions', any);
    expect(!parsed.ok && parsed.errors[0].message).toBe('line 2: custom_id "a\\u0001" appears more than once in the file');
  });

  it('refuses duplicate custom_ids and models the check refuses', () => {
    const parsed = parseBatchInput(Buffer.from([line('a'), line('a'), line('b')].join('\n')), '/v1/chat/completions', (m) =>
      m === 'm' ? 'no such model' : undefined,
    );
    expect(!parsed.ok && parsed.errors.map((e) => [e.line, e.code])).toEqual([
      [1, 'model_not_found'],
      [2, 'duplicate_custom_id'],
      [3, 'model_not_found'],
    ]);
  });

  it('refuses an empty file', () => {
    expect(parseBatchInput(Buffer.from('\n'), '/v1/chat/completions', any)).toMatchObject({ ok: false, errors: [{ code: 'empty_file' }] });
  });
});

describe('outputLine', () => {
  it('writes OpenAI’s result line', () => {
    expect(
      JSON.parse(outputLine({ customId: 'c', line: 1, requestId: 'batch_x-L1-a1', statusCode: 200, body: { ok: 1 }, error: null })),
    ).toEqual({
      id: expect.stringMatching(/^batch_req_/),
      custom_id: 'c',
      response: { status_code: 200, request_id: 'batch_x-L1-a1', body: { ok: 1 } },
      error: null,
    });
  });
});

describe('parseBatchInputAsync', () => {
  it('gives the same answer as the synchronous check, handing the event loop back between slices', async () => {
    const file = Buffer.from([...Array.from({ length: 300 }, (_, i) => line(`r${i}`)), 'not json', line('r7'), ''].join('\r\n'));
    // another task on the event loop, taking a turn whenever it gets one
    let turns = 0;
    let done = false;
    const other = () => {
      turns += 1;
      if (!done) setImmediate(other);
    };
    setImmediate(other);
    const parsed = await parseBatchInputAsync(file, '/v1/chat/completions', any, 0);
    done = true;
    expect(parsed).toEqual(parseBatchInput(file, '/v1/chat/completions', any));
    expect(parsed).toMatchObject({
      ok: false,
      errors: [
        { code: 'invalid_json_line', line: 301 },
        { code: 'duplicate_custom_id', line: 302 },
      ],
    });
    // with a zero slice it yields after every line: the other task ran in between
    expect(turns).toBeGreaterThanOrEqual(300);
  });
});

describe('spareBatchSlots', () => {
  const w = { capacity: 64, running: 0, waiting: 0, outstanding: 0, state: 'ready' as const, kvCacheUsage: 0 };
  it.each([
    ['an idle worker with no KV figure yet takes one', w, 1],
    ['slots bound it when requests are small', { ...w, running: 40, outstanding: 40, kvCacheUsage: 0.2 }, 8],
    ['KV bounds it when prompts are long', { ...w, running: 10, outstanding: 10, kvCacheUsage: 0.5 }, 5],
    ['dispatches not yet in the heartbeat count against it', { ...w, running: 10, outstanding: 13, kvCacheUsage: 0.5 }, 2],
    ['at most double what the heartbeat saw', { ...w, running: 2, outstanding: 2, kvCacheUsage: 0.02 }, 2],
    ['no KV left beyond the reserve', { ...w, running: 20, outstanding: 20, kvCacheUsage: 0.75 }, 0],
    ['my own outstanding beyond the ceiling', { ...w, outstanding: 50 }, 0],
    ['a queue', { ...w, waiting: 1 }, 0],
    ['not ready', { ...w, state: 'starting' as const }, 0],
  ])('%s', (_case, e, slots) => expect(spareBatchSlots(e, 0.25)).toBe(slots));
});

describe('parseBatchInput: limits a batch cannot sidestep', () => {
  const tokensOf = (...lines: string[]) => {
    const parsed = parseBatchInput(Buffer.from(lines.join('\n')), '/v1/chat/completions', any);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    return parsed.inputTokens;
  };
  const chat = (id: string, body: Record<string, unknown>) =>
    line(id, { body: { model: 'm', messages: [{ role: 'user', content: 'abcd'.repeat(10) }], ...body } });

  it('counts the output a request allows: max_completion_tokens, else max_tokens, else the default', () => {
    const prompt = 10 + ESTIMATE.tokensPerMessage;
    expect(tokensOf(chat('a', { max_tokens: 5000 }))).toBe(prompt + 5000);
    expect(tokensOf(chat('a', { max_completion_tokens: 300, max_tokens: 5000 }))).toBe(prompt + 300);
    expect(tokensOf(chat('a', {}))).toBe(prompt + ESTIMATE.defaultOutputTokens);
  });

  it('estimates a chat line with no text above zero: per message and per media part', () => {
    const empty = line('a', { body: { model: 'm', messages: [{ role: 'user', content: null }], max_tokens: 1 } });
    expect(tokensOf(empty)).toBe(ESTIMATE.tokensPerMessage + 1);
    const image = line('b', {
      body: {
        model: 'm',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
        max_tokens: 1,
      },
    });
    expect(tokensOf(image)).toBe(ESTIMATE.tokensPerMessage + ESTIMATE.tokensPerMediaPart + 1);
  });

  it(`refuses more than ${MAX_BATCH_REQUESTS} requests`, () => {
    const small = (i: number) =>
      `{"custom_id":"${i}","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}`;
    const at = Array.from({ length: MAX_BATCH_REQUESTS }, (_, i) => small(i));
    expect(parseBatchInput(Buffer.from(at.join('\n')), '/v1/chat/completions', any).ok).toBe(true);
    const over = parseBatchInput(Buffer.from([...at, small(MAX_BATCH_REQUESTS)].join('\n')), '/v1/chat/completions', any);
    expect(over).toEqual({ ok: false, errors: [expect.objectContaining({ code: 'too_many_requests', line: MAX_BATCH_REQUESTS + 1 })] });
  });
});
