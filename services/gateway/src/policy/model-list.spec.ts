import type { WorkerRegistered } from '@maas/contracts';
import { ModelCatalogue } from './model-catalogue';
import { modelObject, ownerOf } from './model-list';
import { RegistryReplica } from './registry-replica';

const reg = (
  id: string,
  hardware: 'gpu' | 'cpu',
  caps: WorkerRegistered['models'][number]['capabilities'],
  ctx?: number,
): WorkerRegistered => ({
  workerId: id,
  url: 'http://x',
  hardware,
  capacity: 1,
  vmId: 'vm',
  runtime: { kind: 'vllm' },
  sentAt: '',
  models: [{ id: 'org/m', capabilities: caps, ...(ctx ? { maxContextTokens: ctx } : {}) }],
});

describe('modelObject', () => {
  it('merges ready workers: capabilities, largest context, hardware, count', () => {
    const r = new RegistryReplica();
    r.register(reg('a', 'gpu', ['chat'], 8192), 5000);
    r.register(reg('b', 'cpu', ['completion', 'chat'], 32768), 6000);
    r.register({ ...reg('c', 'cpu', ['embedding']), state: 'starting' }, 6000);
    expect(modelObject(r.knownModel('org/m', 6000, 1)!, r.workersFor('org/m'))).toEqual({
      id: 'org/m',
      object: 'model',
      created: 5,
      owned_by: 'org',
      metadata: {
        capabilities: ['chat', 'completion'],
        max_context_tokens: 32768,
        ready_workers: 2,
        hardware: ['cpu', 'gpu'],
        state: 'ready',
      },
    });
  });

  it('lists nothing for a model without a ready worker', () => {
    const r = new RegistryReplica();
    r.register({ ...reg('a', 'gpu', ['chat']), state: 'starting' }, 0);
    expect(modelObject(r.knownModel('org/m', 0, 1)!, r.workersFor('org/m'))).toBeUndefined();
    expect(ownerOf('plain')).toBe('open-maas');
  });

  it('lists a catalogue model without a ready worker, with its state and what its workers last said', () => {
    const catalogue = new ModelCatalogue(30_000);
    catalogue.published(
      {
        publishedAt: '',
        models: [
          { model: 'org/m', minReplicas: 0, maxReplicas: 2, bootSeconds: 40 },
          { model: 'org/kept', minReplicas: 1, maxReplicas: 1, bootSeconds: 40 },
        ],
      },
      2000,
    );
    const entry = catalogue.get('org/m', 3000);
    const never = modelObject(catalogue.known('org/m', 3000)!, [], entry);
    expect(never).toEqual({
      id: 'org/m',
      object: 'model',
      created: 2,
      owned_by: 'org',
      metadata: { capabilities: [], max_context_tokens: null, ready_workers: 0, hardware: [], state: 'scaled_to_zero' },
    });
    expect(modelObject(catalogue.known('org/m', 3000)!, [], entry, 1)?.metadata.state).toBe('starting');
    expect(modelObject(catalogue.known('org/kept', 3000)!, [], catalogue.get('org/kept', 3000))?.metadata.state).toBe('starting');

    const r = new RegistryReplica();
    r.register({ ...reg('a', 'gpu', ['chat'], 8192), state: 'starting' }, 2500);
    expect(modelObject(r.knownModel('org/m', 3000, 1)!, r.workersFor('org/m'), entry)?.metadata).toEqual({
      capabilities: ['chat'],
      max_context_tokens: 8192,
      ready_workers: 0,
      hardware: [],
      state: 'starting',
    });
  });
});
