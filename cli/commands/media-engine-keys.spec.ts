import { requireSystemPart, startNode, StartedProcess } from '@maas/testing';
import { command as ocrEngine } from './ocr-engine';
import { command as speechEngine } from './speech-engine';

// The OCR and speech runtimes take their key the same way; a machine without Tesseract or pocketsphinx fails with the reason.
describe.each([
  { name: 'ocr-engine', part: 'ocr' as const, command: ocrEngine, work: '/v1/ocr' },
  { name: 'speech-engine', part: 'speech' as const, command: speechEngine, work: '/v1/audio/transcriptions' },
])('maas $name with MAAS_RUNTIME_API_KEY', ({ name, part, command, work }) => {
  const KEY = `${name}-runtime-key-from-the-environment`;
  const start = (key: string) => startNode('dist/cli/main.js', { MAAS_RUNTIME_API_KEY: key }, [name, '--port', '0', '--concurrency', '1']);
  let engine: StartedProcess | undefined;
  beforeAll(() => requireSystemPart(part));
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
  });

  it('says in its --help where the key comes from', () => {
    expect(command.usage).toContain('MAAS_RUNTIME_API_KEY');
  });

  it('demands the key from the environment on /v1, leaves /health and /metrics open, and prints no key', async () => {
    engine = start(KEY);
    const { url, auth } = (await engine.waitFor((r) => r.event === 'ready', 30_000, 'ready line')) as { url: string; auth: string };
    expect(auth).toBe('required');
    const refused = await fetch(`${url}/v1/models`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer not-the-key' } })).status).toBe(401);
    expect((await fetch(`${url}${work}`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect(await engine.stop()).toBe(0);
    expect(engine.lines.join('\n')).not.toContain(KEY);
  });

  it('says it demands no key when none is set', async () => {
    engine = start('');
    const { url, auth } = (await engine.waitFor((r) => r.event === 'ready', 30_000, 'ready line')) as { url: string; auth: string };
    expect(auth).toBe('none');
    expect((await fetch(`${url}/v1/models`)).status).toBe(200);
  });
});
