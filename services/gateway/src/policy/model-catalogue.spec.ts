import { ModelCatalogue, modelState, startEta } from './model-catalogue';

const entry = (model: string, bootSeconds = 30, minReplicas = 0) => ({ model, minReplicas, maxReplicas: 2, bootSeconds });

describe('ModelCatalogue', () => {
  it('knows what was announced until it goes unannounced for longer than its staleness', () => {
    const c = new ModelCatalogue(10_000);
    c.published({ publishedAt: '', models: [entry('a'), entry('b')] }, 1000);
    expect(c.models(5000)).toEqual(['a', 'b']);
    c.published({ publishedAt: '', models: [entry('a', 60)] }, 8000);
    expect(c.get('a', 17_000)).toEqual(entry('a', 60));
    expect(c.get('b', 11_001)).toBeUndefined();
    expect(c.models(17_000)).toEqual(['a']);
    expect(c.get('a', 18_001)).toBeUndefined();
  });

  it('keeps a model first-seen time across announcements; its capabilities are unknown', () => {
    const c = new ModelCatalogue(10_000);
    c.published({ publishedAt: '', models: [entry('a')] }, 1000);
    c.published({ publishedAt: '', models: [entry('a')] }, 3000);
    expect(c.known('a', 4000)).toEqual({ id: 'a', capabilities: new Set(), firstSeenAt: 1000, lastServedAt: 3000 });
    expect(c.known('z', 4000)).toBeUndefined();
  });
});

describe('modelState', () => {
  it.each([
    ['a ready worker', 1, 0, entry('a'), 0, 'ready'],
    ['a worker starting', 0, 1, entry('a'), 0, 'starting'],
    ['replicas the scaler keeps up', 0, 0, entry('a', 30, 1), 0, 'starting'],
    ['requests held for it', 0, 0, entry('a'), 2, 'starting'],
    ['none of those', 0, 0, entry('a'), 0, 'scaled_to_zero'],
  ] as const)('%s', (_, ready, starting, e, held, expected) => {
    expect(modelState(ready, starting, e, held)).toBe(expected);
  });
});

describe('startEta', () => {
  it.each([
    ['the boot time left', 30, 12_400, 18],
    ['5 s once the boot time is over', 30, 45_000, 5],
  ])('retries after %s', (_, boot, waited, retry) => {
    const eta = startEta(entry('a', boot), waited);
    expect(eta.retryAfterSeconds).toBe(retry);
    expect(eta.message).toContain(`about ${boot} s`);
    expect(eta.message).toContain(`retry in ${retry} s`);
  });

  it('says nothing of a model outside the catalogue', () => {
    expect(startEta(undefined, 1000)).toEqual({ retryAfterSeconds: 5, message: '' });
  });
});
