import {
  ConfigError,
  env,
  jetStreamConfigSpec,
  loadConfig,
  natsSecurityConfigSpec,
  natsSecurityProblems,
  parseDuration,
  platformConfigSpec,
} from '@maas/config';

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
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['3h', 10_800_000],
    ['7d', 604_800_000],
    ['2', 2000],
    ['x', undefined],
  ])('parseDuration(%s) = %s', (raw, ms) => expect(parseDuration(raw)).toBe(ms));
});

describe('NATS settings', () => {
  it('takes a comma-separated seed list, each URL checked, and names the key when one is not a NATS URL', () => {
    expect(loadConfig(platformConfigSpec, { NATS_URL: 'tls://a:4222, tls://b:4222,nats://c:4222' }).NATS_URL).toBe(
      'tls://a:4222,tls://b:4222,nats://c:4222',
    );
    expect(() => loadConfig(platformConfigSpec, { NATS_URL: 'tls://a:4222,http://b' })).toThrow(
      'config: NATS_URL must be a comma-separated list of nats or tls URLs, got "tls://a:4222,http://b"',
    );
    expect(() => loadConfig(platformConfigSpec, { NATS_URL: 'tls://a:4222,' })).toThrow(/NATS_URL must be a comma-separated list/);
  });

  it('names credentials that contradict each other', () => {
    const c = (e: NodeJS.ProcessEnv) => natsSecurityProblems(loadConfig(natsSecurityConfigSpec, e));
    expect(c({ NATS_NKEY: '/k.nk', NATS_CA: '/ca.pem' })).toEqual([]);
    expect(c({ NATS_USER: 'u', NATS_NKEY: '/k.nk', NATS_PASSWORD: 'p' })).toEqual([
      'NATS_USER, NATS_NKEY are set: give one way to sign in',
    ]);
    expect(c({ NATS_PASSWORD: 'p' })).toEqual(['NATS_PASSWORD is set without NATS_USER']);
    expect(c({ NATS_CERT: '/c.pem' })).toEqual(['NATS_CERT and NATS_KEY go together']);
    expect(loadConfig(natsSecurityConfigSpec, {}).MAAS_NATS_INSECURE).toBe(false);
  });

  it('keeps JetStream data on 1 server by default, on 3 or 5 when asked, and names MAAS_JS_REPLICAS otherwise', () => {
    expect(loadConfig(jetStreamConfigSpec, {}).MAAS_JS_REPLICAS).toBe(1);
    expect(loadConfig(jetStreamConfigSpec, { MAAS_JS_REPLICAS: '3' }).MAAS_JS_REPLICAS).toBe(3);
    expect(loadConfig(jetStreamConfigSpec, { MAAS_JS_REPLICAS: '5' }).MAAS_JS_REPLICAS).toBe(5);
    for (const bad of ['2', '0', '7', 'three']) {
      expect(() => loadConfig(jetStreamConfigSpec, { MAAS_JS_REPLICAS: bad })).toThrow(`config: MAAS_JS_REPLICAS must be 1, 3 or 5`);
    }
  });
});
