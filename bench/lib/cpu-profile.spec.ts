import { CpuProfile, summarise } from './cpu-profile';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });

/** root → handle (app) → parse (a package) and handle again (recursion); idle and GC beside it. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
    { id: 2, callFrame: frame('handle', 'file:///repo/dist/services/gateway/src/app.js', 9), children: [3, 4] },
    { id: 3, callFrame: frame('parse', 'file:///repo/node_modules/@scope/pkg/lib/p.js', 0) },
    { id: 4, callFrame: frame('handle', 'file:///repo/dist/services/gateway/src/app.js', 9) },
    { id: 5, callFrame: frame('(idle)') },
    { id: 6, callFrame: frame('(garbage collector)') },
  ],
  // 1000 µs each: handle 2, parse 4, nested handle 1, idle 4, GC 1
  samples: [2, 3, 3, 5, 4, 2, 5, 3, 5, 6, 5, 3],
  timeDeltas: Array.from({ length: 12 }, () => 1000),
};

describe('summarise', () => {
  const s = summarise(profile);

  it('counts busy time without the idle thread', () => {
    expect(s.busyMs).toBe(8);
  });

  it('gives self time by function, largest first', () => {
    expect(s.self).toEqual([
      ['parse node_modules/@scope/pkg/lib/p.js:1', 4],
      ['handle services/gateway/src/app.js:10', 3],
      ['(garbage collector)', 1],
    ]);
  });

  it('groups self time by package (scoped names whole) or file', () => {
    expect(new Map(s.byArea)).toEqual(
      new Map([
        ['@scope/pkg', 4],
        ['services/gateway/src/app.js', 3],
        ['(garbage collector)', 1],
      ]),
    );
  });

  it('gives inclusive time, a recursive function counted once', () => {
    expect(new Map(s.inclusive).get('handle services/gateway/src/app.js:10')).toBe(7);
    expect(new Map(s.inclusive).get('parse node_modules/@scope/pkg/lib/p.js:1')).toBe(4);
    expect(new Map(s.inclusive).has('(root)')).toBe(false);
  });
});
