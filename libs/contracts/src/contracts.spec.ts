import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { MESSAGE_NAMES, MessageValidator, Subjects } from '@maas/contracts';

const validator = new MessageValidator();
const now = new Date('2026-01-01T00:00:00Z').toISOString();

describe('subjects', () => {
  it.each([
    ['maas', 'key.revoked', 'maas.v1.key.revoked'],
    ['maas-t1', 'key-registry.verify', 'maas-t1.v1.key-registry.verify'],
  ] as const)('namespace %s, %s → %s', (ns, name, subject) => {
    const s = new Subjects(ns);
    expect(s.subject(name)).toBe(subject);
    expect(s.nameOf(subject)).toBe(name);
  });

  it('ends a worker event in the worker id, and subscribes to every worker with a wildcard', () => {
    const s = new Subjects();
    expect(s.subject('worker.heartbeat', 'gpu-node-7')).toBe('maas.v1.worker.heartbeat.gpu-node-7');
    expect(s.subject('worker.registered')).toBe('maas.v1.worker.registered.*');
    expect(s.parse('maas.v1.worker.heartbeat.gpu-node-7')).toEqual({ name: 'worker.heartbeat', key: 'gpu-node-7' });
    expect(s.nameOf('maas.v1.worker.heartbeat')).toBeUndefined();
    expect(s.nameOf('maas.v1.worker.heartbeat.a.b')).toBeUndefined();
    expect(() => s.subject('worker.heartbeat', 'a.b')).toThrow(/cannot end a subject/);
    expect(() => s.subject('worker.heartbeat', '*')).toThrow(/cannot end a subject/);
    expect(() => s.subject('key.revoked', 'k-1')).toThrow(/not keyed/);
  });

  it('names streams per namespace', () => {
    expect(new Subjects('maas-t1').stream('usage')).toBe('MAAS_T1_USAGE');
    expect(new Subjects().streamSubjects('usage')).toEqual(['maas.v1.usage.request-completed', 'maas.v1.usage.requests-completed']);
  });

  it('rejects namespaces that would break subject tokens', () => {
    expect(() => new Subjects('a.b')).toThrow(/namespace/);
    expect(() => new Subjects('')).toThrow(/namespace/);
  });

  it('does not map foreign subjects', () => {
    expect(new Subjects().nameOf('other.v1.worker.heartbeat')).toBeUndefined();
    expect(new Subjects().nameOf('maas.v1.worker.unknown')).toBeUndefined();
    expect(new Subjects().nameOf('maas.v1.key.revoked.k-1')).toBeUndefined();
  });
});

describe('message validation', () => {
  it('compiles a schema for every message name', () => {
    for (const name of MESSAGE_NAMES) {
      expect(() => validator.message(name, {})).not.toThrow();
    }
  });

  it('accepts a valid heartbeat and rejects a broken one with the field named', () => {
    const ok = validator.message('worker.heartbeat', { workerId: 'w-1', load: { running: 1, waiting: 0 }, sentAt: now });
    expect(ok.ok).toBe(true);
    const bad = validator.message('worker.heartbeat', { workerId: 'w 1', load: { running: -1, waiting: 0 }, sentAt: 'yesterday' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toMatch(/\/workerId/);
      expect(bad.error).toMatch(/\/load\/running/);
      expect(bad.error).toMatch(/\/sentAt/);
    }
  });

  it('resolves references across schema files', () => {
    const reg = {
      workerId: 'w-1',
      url: 'http://127.0.0.1:8000',
      hardware: 'cpu',
      capacity: 4,
      vmId: 'local',
      runtime: { kind: 'sim-engine' },
      sentAt: now,
      models: [{ id: 'Qwen/Qwen2.5-3B-Instruct', capabilities: ['chat', 'teleport'] }],
    };
    const bad = validator.message('worker.registered', reg);
    expect(bad.ok).toBe(false);
    reg.models[0].capabilities = ['chat'];
    expect(validator.message('worker.registered', reg).ok).toBe(true);
    const snapshot = validator.reply('router.list-workers', {
      takenAt: now,
      workers: [{ registration: reg, state: 'ready', lastSeenAt: now }],
    });
    expect(snapshot.ok).toBe(true);
  });

  it('decodes bytes without throwing on garbage', () => {
    const r = validator.decode('key.revoked', Buffer.from('{not json'));
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/^not JSON/) });
  });
});

describe('generated types', () => {
  it('match the schemas in proto/', () => {
    const root = path.resolve(__dirname, '../../..');
    expect(() => execFileSync(process.execPath, [path.join(root, 'scripts/gen-contracts.js'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
