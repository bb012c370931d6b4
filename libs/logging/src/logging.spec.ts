import { Logger } from '@maas/logging';

describe('Logger', () => {
  it('writes one JSON object per line with bound fields and respects the level', () => {
    const lines: string[] = [];
    const log = new Logger('router', 'info', (l) => lines.push(l)).child({ workerId: 'w-1' });
    log.debug('hidden');
    log.info('worker expired', { missedHeartbeats: 3 });
    log.error('boom', { err: new Error('bad') });
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]);
    expect(first).toMatchObject({ level: 'info', service: 'router', msg: 'worker expired', workerId: 'w-1', missedHeartbeats: 3 });
    expect(JSON.parse(lines[1]).err.message).toBe('bad');
  });

  it('survives circular fields', () => {
    const lines: string[] = [];
    const a: Record<string, unknown> = {};
    a.self = a;
    new Logger('x', 'info', (l) => lines.push(l)).info('loop', { a });
    expect(JSON.parse(lines[0]).note).toMatch(/not serialisable/);
  });
});
