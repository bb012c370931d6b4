import { runtimeCommand, vllmCommand } from './runtime-command';

const at = { host: '0.0.0.0', port: 8001, apiKey: 'k-123' };

describe('vllmCommand', () => {
  it.each([
    [
      'a 70B model over four GPUs, long context, priority for interactive traffic',
      {
        model: 'meta-llama/Llama-3.3-70B-Instruct',
        servedModelName: 'llama-3.3-70b',
        tensorParallelSize: 4,
        maxModelLen: 32768,
        gpuMemoryUtilization: 0.92,
        priorityScheduling: true,
      },
      [],
      'serve meta-llama/Llama-3.3-70B-Instruct --host 0.0.0.0 --port 8001 --served-model-name llama-3.3-70b --tensor-parallel-size 4 --max-model-len 32768 --gpu-memory-utilization 0.92 --scheduling-policy priority',
    ],
    [
      "vLLM's own defaults where the spec says nothing; extra arguments last",
      { model: '/models/qwen', servedModelName: 'Qwen/Qwen2.5-3B-Instruct' },
      ['--enable-prefix-caching'],
      'serve /models/qwen --host 0.0.0.0 --port 8001 --served-model-name Qwen/Qwen2.5-3B-Instruct --enable-prefix-caching',
    ],
    [
      'fcfs when priority scheduling is off',
      { model: 'm', servedModelName: 'm', priorityScheduling: false, tensorParallelSize: 1 },
      [],
      'serve m --host 0.0.0.0 --port 8001 --served-model-name m --tensor-parallel-size 1',
    ],
  ])('%s', (_name, spec, extra, expected) => {
    const c = vllmCommand(spec, at, extra);
    expect(c.program).toBe('vllm');
    expect(c.args.join(' ')).toBe(expected);
    expect(c.kind).toBe('vllm');
    // the key is in the environment vLLM reads, never on the command line others can list
    expect(c.env).toEqual({ VLLM_API_KEY: 'k-123' });
    expect(c.args.join(' ')).not.toContain('k-123');
    expect(c.usesApiKey).toBe(true);
  });

  it('demands no key when none is given', () => {
    const c = vllmCommand({ model: 'm', servedModelName: 'm' }, { host: '127.0.0.1', port: 1 });
    expect(c.env).toEqual({});
    expect(c.usesApiKey).toBe(false);
  });
});

describe('runtimeCommand', () => {
  const model = { model: '/models/tiny.gguf', servedModelName: 'tiny' };
  const maas = ['/usr/bin/node', '/opt/maas/bin/maas.js'];

  it.each([
    [
      'llama-server',
      'llama-server',
      '-m /models/tiny.gguf --host 0.0.0.0 --port 8001 --alias tiny --metrics -c 4096',
      { LLAMA_API_KEY: 'k-123' },
      'llama.cpp',
      true,
    ],
    [
      'sim-engine',
      '/usr/bin/node',
      '/opt/maas/bin/maas.js sim-engine --host 0.0.0.0 --port 8001 --model tiny -c 4096',
      { MAAS_RUNTIME_API_KEY: 'k-123' },
      'sim-engine',
      true,
    ],
    [
      'llama-engine',
      '/usr/bin/node',
      '/opt/maas/bin/maas.js llama-engine --model /models/tiny.gguf --model-id tiny --host 0.0.0.0 --port 8001 -c 4096',
      { MAAS_RUNTIME_API_KEY: 'k-123' },
      undefined,
      true,
    ],
  ] as const)('%s', (kind, program, args, env, runtimeKind, usesApiKey) => {
    const c = runtimeCommand({ kind, model, at, maas, extra: ['-c', '4096'] });
    expect([c.program, c.args.join(' '), c.env, c.kind, c.usesApiKey]).toEqual([program, args, env, runtimeKind, usesApiKey]);
    // the key is in the runtime's environment, never on the command line others can list
    expect(c.args.join(' ')).not.toContain('k-123');
  });

  it.each(['vllm', 'llama-server', 'sim-engine', 'llama-engine'] as const)('%s without a key demands none', (kind) => {
    const c = runtimeCommand({ kind, model, at: { host: '127.0.0.1', port: 1 }, maas, extra: [] });
    expect([c.env, c.usesApiKey]).toEqual([{}, false]);
  });
});
