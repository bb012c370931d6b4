import { knativeScaleBounds, modelSlug, renderWorkerTemplate } from './kubernetes-workload';

describe('modelSlug', () => {
  it.each([
    ['Qwen/Qwen2.5-3B-Instruct', 'qwen-qwen2-5-3b-instruct'],
    ['openai/gpt-oss-20b', 'openai-gpt-oss-20b'],
    ['--Weird__Name--', 'weird-name'],
    ['///', 'model'],
    ['a'.repeat(39) + '/b', 'a'.repeat(39)],
  ])('%s → %s', (model, slug) => {
    expect(modelSlug(model)).toBe(slug);
    expect(slug).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('renderWorkerTemplate', () => {
  const template = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'maas-worker-{slug}', labels: { app: 'maas-worker-{slug}' } },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: 'worker',
              args: ['worker', '--launch', 'vllm', '--advertise-url', 'http://{slug}.{namespace}.svc', '--', '--model', '{model}'],
              resources: { limits: { 'nvidia.com/gpu': 1 } },
            },
          ],
        },
      },
    },
  };

  it('substitutes the model everywhere and marks the object as the model’s worker', () => {
    const o = renderWorkerTemplate(template, 'Qwen/Qwen2.5-3B-Instruct', 'open-maas') as typeof template & {
      metadata: { annotations: Record<string, string> };
    };
    expect(o.metadata.name).toBe('maas-worker-qwen-qwen2-5-3b-instruct');
    expect(o.metadata.labels).toEqual({ app: 'maas-worker-qwen-qwen2-5-3b-instruct', 'open-maas.io/component': 'worker' });
    expect(o.metadata.annotations).toEqual({ 'open-maas.io/model': 'Qwen/Qwen2.5-3B-Instruct' });
    expect(o.spec.template.spec.containers[0].args).toEqual([
      'worker',
      '--launch',
      'vllm',
      '--advertise-url',
      'http://qwen-qwen2-5-3b-instruct.open-maas.svc',
      '--',
      '--model',
      'Qwen/Qwen2.5-3B-Instruct',
    ]);
    expect(o.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    // the template itself is left as it was, for the next model
    expect(template.metadata.name).toBe('maas-worker-{slug}');
  });

  it('refuses a template without a name', () => {
    expect(() => renderWorkerTemplate({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: {} }, 'm', 'ns')).toThrow(
      /metadata\.name must be set/,
    );
  });
});

describe('knativeScaleBounds', () => {
  it.each([
    [0, 4, { minScale: 0, maxScale: 4 }],
    [3, 4, { minScale: 3, maxScale: 4 }],
    [6, 4, { minScale: 4, maxScale: 4 }],
    [0, 0, { minScale: 0, maxScale: 1 }],
  ])('desired %d, max %d', (desired, max, bounds) => {
    expect(knativeScaleBounds(desired, max)).toEqual(bounds);
  });
});
