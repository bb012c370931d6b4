import { BatchGate } from './batch-gate';

describe('BatchGate', () => {
  it.each([
    [
      'one per model per turn, oldest first',
      [
        ['m', 'a'],
        ['m', 'b'],
        ['n', 'c'],
      ],
      { m: 5, n: 5 },
      ['m:a', 'n:c'],
      false,
    ],
    [
      'none for a model without a spare slot',
      [
        ['m', 'a'],
        ['n', 'b'],
      ],
      { m: 0, n: 1 },
      ['n:b'],
      false,
    ],
    ['nobody waiting: nothing, and idle', [], { m: 1 }, [], true],
    ['the last waiter admitted leaves the gate idle', [['m', 'a']], { m: 1 }, ['m:a'], true],
  ])('%s', (_case, waiting, spare, admitted, idle) => {
    const gate = new BatchGate<string>();
    for (const [model, w] of waiting as [string, string][]) gate.wait(model, w);
    const got = gate.turn((m) => (spare as Record<string, number>)[m] ?? 0);
    expect(got.map((a) => `${a.model}:${a.waiter}`)).toEqual(admitted);
    expect(gate.idle).toBe(idle);
  });

  it('admits the next waiter at the next turn', () => {
    const gate = new BatchGate<string>();
    gate.wait('m', 'a');
    gate.wait('m', 'b');
    expect(gate.turn(() => 1).map((a) => a.waiter)).toEqual(['a']);
    expect(gate.turn(() => 1).map((a) => a.waiter)).toEqual(['b']);
    expect(gate.idle).toBe(true);
  });

  it('a waiter that leaves is not admitted; leaving twice says it was not waiting', () => {
    const gate = new BatchGate<string>();
    gate.wait('m', 'a');
    gate.wait('m', 'b');
    expect(gate.leave('m', 'a')).toBe(true);
    expect(gate.leave('m', 'a')).toBe(false);
    expect(gate.turn(() => 1).map((a) => a.waiter)).toEqual(['b']);
  });
});
