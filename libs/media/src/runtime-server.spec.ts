import { Logger } from '@maas/logging';
import { RuntimeServer, sendJson, startRuntimeServer } from './runtime-server';

/** What every runtime on this server (llama-engine, OCR, speech) does when started with a key. */
describe('startRuntimeServer with a key, as vLLM with --api-key', () => {
  const KEY = 'runtime-key-0123456789';
  let server: RuntimeServer;
  const ok = ({ res }: { res: Parameters<typeof sendJson>[0] }) => sendJson(res, 200, { ok: true });

  beforeAll(async () => {
    server = await startRuntimeServer({
      routes: [
        { method: 'GET', path: '/health', handle: ok },
        { method: 'GET', path: '/metrics', handle: ok },
        { method: 'POST', path: '/v1/chat/completions', metered: true, handle: ok },
        { method: 'POST', path: '/tokenize', handle: ok },
      ],
      port: 0,
      logger: new Logger('runtime-server-spec', 'error'),
      apiKey: KEY,
    });
  });
  afterAll(() => server.close());

  const post = (path: string, authorization?: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: authorization ? { authorization } : {}, body: '{}' });

  it.each([
    ['no key', undefined, 'missing_runtime_key'],
    ['a wrong key', 'Bearer runtime-key-0123456788', 'invalid_runtime_key'],
  ])('refuses a chat with %s: 401 in the OpenAI shape, naming no key', async (_name, authorization, code) => {
    const res = await post('/v1/chat/completions', authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code } });
    expect(text).not.toContain(KEY);
  });

  it('refuses the paths beside /v1 and unknown ones too, and serves the caller with the key', async () => {
    expect((await post('/tokenize')).status).toBe(401);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    expect((await post('/v1/chat/completions', `Bearer ${KEY}`)).status).toBe(200);
    expect((await post('/tokenize', `Bearer ${KEY}`)).status).toBe(200);
  });

  it('leaves /health and /metrics open', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });
});
