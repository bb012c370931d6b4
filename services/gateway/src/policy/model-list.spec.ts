import type { WorkerRegistered } from '@maas/contracts';
import { modelObject, ownerOf } from './model-list';
import { RegistryReplica } from './registry-replica';

const reg = (id: string, hardware: 'gpu' | 'cpu', caps: WorkerRegistered['models'][number]['capabilities'], ctx?: number): WorkerRegistered => ({
  workerId: id, url: 'http://x', hardware, capacity: 1, vmId: 'vm', runtime: { kind: 'vllm' }, sentAt: '',
  models: [{ id: 'org/m', capabilities: caps, ...(ctx ? { maxContextTokens: ctx } : {}) }],
});

describe('modelObject', () => {
  it('merges ready workers: capabilities, largest context, hardware, count', () => {
    const r = new RegistryReplica();
    r.register(reg('a', 'gpu', ['chat'], 8192), 5000);
    r.register(reg('b', 'cpu', ['completion', 'chat'], 32768), 6000);
    r.register({ ...reg('c', 'cpu', ['embedding']), state: 'starting' }, 6000);
    expect(modelObject(r.knownModel('org/m', 6000, 1)!, r.workersFor('org/m'))).toEqual({
      id: 'org/m', object: 'model', created: 5, owned_by: 'org',
      metadata: { capabilities: ['chat', 'completion'], max_context_tokens: 32768, ready_workers: 2, hardware: ['cpu', 'gpu'] },
    });
  });

  it('lists nothing for a model without a ready worker', () => {
    const r = new RegistryReplica();
    r.register({ ...reg('a', 'gpu', ['chat']), state: 'starting' }, 0);
    expect(modelObject(r.knownModel('org/m', 0, 1)!, r.workersFor('org/m'))).toBeUndefined();
    expect(ownerOf('plain')).toBe('open-maas');
  });
});
