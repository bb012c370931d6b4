import { seededRng } from '@maas/scaling';
import { drawBootSeconds, parseMdxSimConfig } from './sim-config';
import { TokenIssuer } from './tokens';

const base = { users: [{ username: 'u', password: 'p' }] };

describe('mdx-sim config', () => {
  it('expands numbered VMs and their template', () => {
    const config = parseMdxSimConfig({
      ...base,
      templates: { qwen: ['--launch', 'sim-engine', '--model', 'Qwen/Qwen2.5-3B-Instruct'] },
      projects: [
        {
          id: 'p',
          vms: [
            { id: 'gpu-{n}', count: 3, template: 'qwen', packNum: 2 },
            { id: 'cpu-1', packType: 'cpu', worker: ['--sim-profile', 'cpu16-qwen2.5-3b'] },
          ],
        },
      ],
    });
    expect(config.projects[0].vms.map((v) => [v.id, v.packType, v.packNum, v.worker[1]])).toEqual([
      ['gpu-001', 'gpu', 2, 'sim-engine'],
      ['gpu-002', 'gpu', 2, 'sim-engine'],
      ['gpu-003', 'gpu', 2, 'sim-engine'],
      ['cpu-1', 'cpu', 1, 'cpu16-qwen2.5-3b'],
    ]);
    expect(config).toMatchObject({
      tokenTtlSeconds: 300,
      bootFailureRate: 0,
      bootFailureMode: 'guest-hangs',
      rateLimit: { requestsPerSecond: 10, burst: 30 },
    });
  });

  it.each([
    ['no users', { projects: [] }, 'users must be a non-empty list'],
    [
      'an unknown template',
      { ...base, projects: [{ id: 'p', vms: [{ id: 'a', template: 'x' }] }] },
      'projects[0].vms[0]: template must be one of the templates (none)',
    ],
    [
      'a VM twice',
      {
        ...base,
        projects: [
          {
            id: 'p',
            vms: [
              { id: 'a', worker: [] },
              { id: 'a', worker: [] },
            ],
          },
        ],
      },
      'projects[0].vms[1]: id must be unique',
    ],
    [
      'a count without {n}',
      { ...base, projects: [{ id: 'p', vms: [{ id: 'a', count: 2, worker: [] }] }] },
      'projects[0]: vms[0].id must be a pattern with {n}',
    ],
    [
      'a failure rate above 1',
      { ...base, bootFailureRate: 2, projects: [{ id: 'p', vms: [] }] },
      'bootFailureRate must be a fraction in [0, 1]',
    ],
    [
      'an unknown distribution',
      { ...base, bootSeconds: { kind: 'gamma' }, projects: [{ id: 'p', vms: [] }] },
      'bootSeconds.kind must be fixed, uniform or lognormal',
    ],
  ])('refuses %s, naming the key', (_name, raw, message) => {
    expect(() => parseMdxSimConfig(raw, 'sim.json')).toThrow(message);
  });
});

describe('boot time draws', () => {
  const draws = (d: Parameters<typeof drawBootSeconds>[0]) => {
    const rng = seededRng(7);
    return Array.from({ length: 4000 }, () => drawBootSeconds(d, rng)).sort((a, b) => a - b);
  };

  it('lognormal: the median as configured, right-skewed', () => {
    const xs = draws({ kind: 'lognormal', median: 60, sigma: 0.3 });
    expect(xs[2000]).toBeGreaterThan(57);
    expect(xs[2000]).toBeLessThan(63);
    // e^(0.3 × 1.645) ≈ 1.64: the 95th percentile sits near 98 s, the 5th near 37 s
    expect(xs[3800]).toBeGreaterThan(90);
    expect(xs[3800]).toBeLessThan(106);
    expect(xs[200]).toBeGreaterThan(33);
    expect(xs[200]).toBeLessThan(41);
  });

  it('uniform stays within its bounds; fixed is fixed', () => {
    const xs = draws({ kind: 'uniform', min: 1, max: 2 });
    expect(xs[0]).toBeGreaterThanOrEqual(1);
    expect(xs[xs.length - 1]).toBeLessThan(2);
    expect(xs[2000]).toBeCloseTo(1.5, 1);
    expect(new Set(draws({ kind: 'fixed', seconds: 5 }))).toEqual(new Set([5]));
  });
});

describe('TokenIssuer', () => {
  it('accepts its own tokens until they expire, and nobody else’s', () => {
    const issuer = new TokenIssuer(300);
    const t0 = Date.UTC(2026, 0, 1);
    const token = issuer.issue('u', t0);
    expect(issuer.check(token, t0 + 299_000)).toMatchObject({
      ok: true,
      claims: { username: 'u', exp: t0 / 1000 + 300, orig_iat: t0 / 1000 },
    });
    expect(issuer.check(token, t0 + 300_000)).toEqual({ ok: false, why: 'expired' });
    expect(new TokenIssuer(300).check(token, t0)).toEqual({ ok: false, why: 'signature' });
    expect(issuer.check('not-a-jwt', t0)).toEqual({ ok: false, why: 'malformed' });
    const [head, , sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ username: 'admin', exp: t0 / 1000 + 9999, orig_iat: 0, jti: 'x' })).toString('base64url');
    expect(issuer.check(`${head}.${forged}.${sig}`, t0)).toEqual({ ok: false, why: 'signature' });
  });
});
