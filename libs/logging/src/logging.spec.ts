import { trace } from '@opentelemetry/api';
import { node } from '@opentelemetry/sdk-node';
import { Logger, LogLevel, parseLogLevel, REDACTED } from '@maas/logging';

function capture(level: LogLevel = 'info', service = 'router') {
  const lines: string[] = [];
  const log = new Logger(service, level, (l) => lines.push(l));
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('Logger', () => {
  it('writes one JSON object per line: ts, level, service, msg, bound fields and call fields', () => {
    const { log: root, lines, records } = capture();
    const log = root.child({ workerId: 'w-1' });
    log.debug('hidden');
    log.info('worker expired', { missedHeartbeats: 3 });
    log.error('boom', { err: new Error('bad') });
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [first, second] = records();
    expect(first).toMatchObject({ level: 'info', service: 'router', msg: 'worker expired', workerId: 'w-1', missedHeartbeats: 3 });
    expect(new Date(String(first.ts)).toISOString()).toBe(first.ts);
    expect(Object.keys(first).sort()).toEqual(['level', 'missedHeartbeats', 'msg', 'service', 'ts', 'workerId']);
    expect(second).toMatchObject({ level: 'error', err: { message: 'bad' } });
    expect((second.err as { stack: string }).stack).toMatch(/^Error: bad\n\s+at /);
  });

  it('a call field overrides a bound one of the same name', () => {
    const { log, records } = capture();
    log.child({ component: 'a' }).info('x', { component: 'b' });
    expect(records()[0].component).toBe('b');
  });

  it.each<[LogLevel, string[]]>([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
    ['silent', []],
  ])('at level %s writes %j', (level, expected) => {
    const { log, records } = capture(level);
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.fatal('f'); // Nest's fatal is an error line
    expect(records().map((r) => r.level)).toEqual(expected.includes('error') ? [...expected, 'error'] : expected);
  });

  it('reads LOG_LEVEL as written, falling back on anything unknown', () => {
    expect(['debug', 'INFO', ' warn', 'error', 'silent'].map((v) => parseLogLevel(v))).toEqual([
      'debug',
      'info',
      'warn',
      'error',
      'silent',
    ]);
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('verbose', 'warn')).toBe('warn');
  });

  it("speaks Nest's LoggerService: log/verbose are debug, a string second argument is the context", () => {
    const { log, records } = capture('debug');
    log.log('Mapped {/health, GET} route', 'RouterExplorer');
    log.verbose('detail');
    log.error('Nest failed', 'Error: x\n    at y', 'ExceptionHandler');
    expect(records()).toEqual([
      expect.objectContaining({ level: 'debug', msg: 'Mapped {/health, GET} route', context: 'RouterExplorer' }),
      expect.objectContaining({ level: 'debug', msg: 'detail' }),
      expect.objectContaining({ level: 'error', msg: 'Nest failed', stack: 'Error: x\n    at y', context: 'ExceptionHandler' }),
    ]);
  });

  it('carries the active OpenTelemetry trace and span ids', () => {
    const provider = new node.NodeTracerProvider();
    provider.register(); // the async-hooks context manager makes startActiveSpan's span the active one
    try {
      const { log, records } = capture();
      const ids = provider.getTracer('test').startActiveSpan('work', (span) => {
        log.info('inside');
        span.end();
        return span.spanContext();
      });
      log.info('outside');
      const [inside, outside] = records();
      expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
      expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(outside).not.toHaveProperty('trace_id');
      expect(outside).not.toHaveProperty('span_id');
    } finally {
      trace.disable();
    }
  });

  it('survives circular fields and bigints', () => {
    const { log, records } = capture();
    const a: Record<string, unknown> = { n: 10n };
    a.self = a;
    log.info('loop', { a });
    expect(records()[0].a).toEqual({ n: '10', self: '[Circular]' });
  });
});

describe('Logger redaction', () => {
  const KEY = 'sk-abcd1234_' + 'Q'.repeat(43);
  const SECRET_PART = 'Q'.repeat(43);

  it('never writes an API key, wherever it appears', () => {
    const { log, lines } = capture('debug');
    const child = log.child({ note: `bound ${KEY}` });
    child.info(`key ${KEY} rejected`, {
      key: KEY,
      nested: { deeper: [{ value: `prefix ${KEY} suffix` }] },
      err: new Error(`invalid key ${KEY}`),
      openai: 'sk-proj-' + 'Z'.repeat(40),
    });
    child.warn('Bearer header', { header: `Bearer ${KEY}` });
    child.error(`failed for ${KEY}`, `Error: ${KEY}\n    at x`, 'Ctx');
    child.log(`nest says ${KEY}`);
    const out = lines.join('');
    expect(lines).toHaveLength(4);
    expect(out).not.toContain(SECRET_PART);
    expect(out).not.toContain('Z'.repeat(40));
    // the key's listed prefix stays, so a line still says which key it was
    expect(JSON.parse(lines[0]).key).toBe(`sk-abcd1234_${REDACTED}`);
  });

  it('withholds credentials by key name at any depth', () => {
    const { log, records } = capture();
    log.info('request', {
      headers: {
        Authorization: 'Bearer abc.def',
        cookie: 'maas_session=s3cr3t',
        'set-cookie': ['maas_session=s3cr3t; HttpOnly'],
        'content-type': 'application/json',
      },
      body: { user: { password: 'hunter2', name: 'ada' }, SAMLResponse: 'PHNhbWxwOlJlc3BvbnNl', client_secret: 'cs', sessionToken: 'tok' },
      adminToken: 'adm',
      usage: { max_tokens: 512, prompt_tokens: 7 },
      sessionId: 's-1',
    });
    const r = records()[0] as Record<string, Record<string, unknown>>;
    expect(r.headers).toEqual({ Authorization: REDACTED, cookie: REDACTED, 'set-cookie': REDACTED, 'content-type': 'application/json' });
    expect(r.body).toEqual({
      user: { password: REDACTED, name: 'ada' },
      SAMLResponse: REDACTED,
      client_secret: REDACTED,
      sessionToken: REDACTED,
    });
    expect(r.adminToken).toBe(REDACTED);
    // counts and ids that merely look alike stay readable
    expect(r.usage).toEqual({ max_tokens: 512, prompt_tokens: 7 });
    expect(r.sessionId).toBe('s-1');
  });

  it("leaves the caller's objects as they were", () => {
    const { log, records } = capture();
    const headers = { authorization: 'Bearer abc', accept: 'application/json' };
    const plain = { model: 'm', n: 1 };
    const body = { items: [plain, { note: `key ${KEY}` }] };
    log.info('request', { headers, body, plain });
    expect(headers).toEqual({ authorization: 'Bearer abc', accept: 'application/json' });
    expect(body.items[1]).toEqual({ note: `key ${KEY}` });
    const r = records()[0] as Record<string, any>;
    expect(r.headers.authorization).toBe(REDACTED);
    expect(r.body.items).toEqual([{ model: 'm', n: 1 }, { note: `key sk-abcd1234_${REDACTED}` }]);
    expect(r.plain).toEqual(plain);
  });

  it('withholds secrets by value pattern in messages and free text', () => {
    const { log, lines } = capture();
    log.info('POST /auth/saml/acs SAMLResponse=PHNhbWxwOlJlc3BvbnNl&RelayState=/portal');
    log.info('connecting', { url: 'postgres://maas:pgpass@db:5432/maas' });
    log.info('cookie header was maas_session=abcdef; theme=dark');
    log.info('login form', { form: 'user=ada&password=hunter2' });
    log.info('basic', { h: 'Basic YWRhOmh1bnRlcjI=' });
    const out = lines.join('');
    for (const secret of ['PHNhbWxwOlJlc3BvbnNl', 'pgpass', 'abcdef', 'hunter2', 'YWRhOmh1bnRlcjI=']) expect(out).not.toContain(secret);
    const records = lines.map((l) => JSON.parse(l));
    expect(records[0].msg).toBe(`POST /auth/saml/acs SAMLResponse=${REDACTED}&RelayState=/portal`);
    expect(records[1].url).toBe(`postgres://maas:${REDACTED}@db:5432/maas`);
    expect(records[2].msg).toBe(`cookie header was maas_session=${REDACTED}; theme=dark`);
  });
});
