import { nodeArgs, shellQuote, splitArgs, workerArgs } from './worker-command';

describe('worker command lines', () => {
  it('substitutes the node into the runtime flags, keeping quoted blanks', () => {
    expect(
      workerArgs(`--sim-profile {vmType} --sim-model {model} --advertise-url "http://h:1/{vmId} x"`, {
        vmId: 'local-1',
        vmType: 'a100-qwen2.5-3b',
        model: 'Qwen/Qwen2.5-3B-Instruct',
      }),
    ).toEqual(['--sim-profile', 'a100-qwen2.5-3b', '--sim-model', 'Qwen/Qwen2.5-3B-Instruct', '--advertise-url', 'http://h:1/local-1 x']);
    expect(splitArgs(`  a 'b c'  "d"`)).toEqual(['a', 'b c', 'd']);
  });

  it("puts the node's flags before the launched runtime's arguments", () => {
    const launch = { vmId: 'local-1', vmType: 'a100-qwen2.5-3b', model: 'Qwen/Qwen2.5-3B-Instruct' };
    expect(workerArgs('--launch sim-engine --model {model} -- --profile {vmType}', launch, ['--vm-id', 'local-1']).join(' ')).toBe(
      '--launch sim-engine --model Qwen/Qwen2.5-3B-Instruct --vm-id local-1 -- --profile a100-qwen2.5-3b',
    );
    expect(workerArgs('--sim-profile {vmType}', launch, ['--vm-id', 'local-1']).join(' ')).toBe(
      '--sim-profile a100-qwen2.5-3b --vm-id local-1',
    );
  });

  it('names the worker after its node and lets it drain long', () => {
    expect(nodeArgs('local-1', 30 * 60_000)).toEqual(['--vm-id', 'local-1', '--worker-id', 'local-1', '--drain-timeout', '1800s']);
  });

  it('quotes for the batch script only what needs it', () => {
    expect(['--sim-model', 'Qwen/Qwen2.5-3B-Instruct', 'a b', "it's"].map(shellQuote).join(' ')).toBe(
      `--sim-model Qwen/Qwen2.5-3B-Instruct 'a b' 'it'\\''s'`,
    );
  });
});
