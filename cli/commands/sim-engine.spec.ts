import { command, parseDuration } from './sim-engine';

describe('parseDuration', () => {
  it.each([
    ['2s', 2],
    ['500ms', 0.5],
    ['1.5m', 90],
    ['1h', 3600],
    ['30', 30],
  ])('%s is %d s', (text, seconds) => {
    expect(parseDuration(text, 'startup-delay')).toBeCloseTo(seconds, 12);
  });

  it('names the flag when the text is not a duration', () => {
    expect(() => parseDuration('soon', 'spike-every')).toThrow('--spike-every: expected a duration like 2s, 500ms or 1m, got "soon"');
  });
});

describe('maas sim-engine with MAAS_RUNTIME_API_KEY', () => {
  const KEY = 'runtime-key-from-the-environment';
  let printed = '';
  let write: jest.SpyInstance;

  beforeEach(() => {
    printed = '';
    write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    process.env.MAAS_RUNTIME_API_KEY = KEY;
  });
  afterEach(() => {
    write.mockRestore();
    delete process.env.MAAS_RUNTIME_API_KEY;
  });

  it('says in its --help where the key comes from', () => {
    expect(command.usage).toContain('MAAS_RUNTIME_API_KEY');
  });

  it('demands the key from the environment on /v1, leaves /health and /metrics open, and prints no key', async () => {
    const before = process.listeners('SIGTERM');
    const exited = command.run(['--profile', 'a100-qwen2.5-3b', '--port', '0', '--time-scale', '50']);
    const listening = async (): Promise<{ url: string; auth: string }> => {
      for (;;) {
        const line = printed.split('\n').find((l) => l.includes('"event":"listening"'));
        if (line) return JSON.parse(line) as { url: string; auth: string };
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const { url, auth } = await Promise.race([
      listening(),
      exited.then((code) => Promise.reject(new Error(`maas sim-engine exited with ${code}:\n${printed}`))),
    ]);
    try {
      expect(auth).toBe('required');
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer not-the-key' } })).status).toBe(401);
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
    } finally {
      // stop it as SIGTERM would, without signalling the test process itself
      for (const stop of process.listeners('SIGTERM').filter((l) => !before.includes(l))) stop('SIGTERM');
    }
    await expect(exited).resolves.toBe(0);
    expect(printed).not.toContain(KEY);
  });
});
