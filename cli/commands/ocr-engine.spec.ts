import { requireSystemPart, startNode, StartedProcess } from '@maas/testing';
import { command } from './ocr-engine';

// A machine without Tesseract fails here with the reason.
beforeAll(() => requireSystemPart('ocr'));

describe('maas ocr-engine with MAAS_RUNTIME_API_KEY', () => {
  const KEY = 'ocr-runtime-key-from-the-environment';
  let engine: StartedProcess | undefined;
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
  });

  it('says in its --help where the key comes from', () => {
    expect(command.usage).toContain('MAAS_RUNTIME_API_KEY');
  });

  it('demands the key from the environment on /v1, leaves /health and /metrics open, and prints no key', async () => {
    engine = startNode('dist/cli/main.js', { MAAS_RUNTIME_API_KEY: KEY }, ['ocr-engine', '--port', '0', '--concurrency', '1']);
    const { url, auth } = (await engine.waitFor((r) => r.event === 'ready', 30_000, 'ready line')) as { url: string; auth: string };
    expect(auth).toBe('required');
    const refused = await fetch(`${url}/v1/models`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer not-the-key' } })).status).toBe(401);
    expect((await fetch(`${url}/v1/ocr`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect(await engine.stop()).toBe(0);
    expect(engine.lines.join('\n')).not.toContain(KEY);
  });

  it('says it demands no key when none is set', async () => {
    engine = startNode('dist/cli/main.js', { MAAS_RUNTIME_API_KEY: '' }, ['ocr-engine', '--port', '0', '--concurrency', '1']);
    const { url, auth } = (await engine.waitFor((r) => r.event === 'ready', 30_000, 'ready line')) as { url: string; auth: string };
    expect(auth).toBe('none');
    expect((await fetch(`${url}/v1/models`)).status).toBe(200);
  });
});
