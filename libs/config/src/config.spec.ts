import { ConfigError, env, loadConfig, parseDuration } from '@maas/config';

describe('loadConfig', () => {
  const spec = {
    PORT: env.int(3000, 1, 65535),
    NATS_URL: env.url('nats://127.0.0.1:4222', ['nats']),
    TIMEOUT: env.duration('30s'),
    DEBUG: env.bool(false),
  };

  it('applies defaults', () => {
    expect(loadConfig(spec, {})).toEqual({ PORT: 3000, NATS_URL: 'nats://127.0.0.1:4222', TIMEOUT: 30_000, DEBUG: false });
  });

  it('names every failing key at once', () => {
    expect(() => loadConfig(spec, { PORT: 'abc', NATS_URL: 'http://x', TIMEOUT: 'soon' })).toThrow(ConfigError);
    try {
      loadConfig(spec, { PORT: 'abc', NATS_URL: 'http://x', TIMEOUT: 'soon' });
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain('PORT must be an integer between 1 and 65535, got "abc"');
      expect(message).toContain('NATS_URL must be a nats URL');
      expect(message).toContain('TIMEOUT must be a duration');
    }
  });

  it.each([
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['3h', 10_800_000], ['7d', 604_800_000], ['2', 2000], ['x', undefined],
  ])('parseDuration(%s) = %s', (raw, ms) => expect(parseDuration(raw)).toBe(ms));
});
