import { BoundedLabel } from './bounded-label';

describe('BoundedLabel', () => {
  const known = (names: string[]) => (v: string) => names.includes(v);

  it('gives known values their own label and collapses unknown ones into one', () => {
    const label = new BoundedLabel(10);
    const isKnown = known(['qwen', 'gpt-oss']);
    expect(['qwen', 'gpt-oss', 'made-up', '', 'x'.repeat(500)].map((v) => label.value(v, isKnown))).toEqual([
      'qwen',
      'gpt-oss',
      'other',
      'other',
      'other',
    ]);
    expect(label.size).toBe(2);
  });

  it('stops admitting at the cap, and keeps the labels it gave', () => {
    const label = new BoundedLabel(3);
    const all = () => true;
    const values = Array.from({ length: 1000 }, (_, i) => label.value(`m${i}`, all));
    expect(new Set(values)).toEqual(new Set(['m0', 'm1', 'm2', 'other']));
    expect(label.value('m1', () => false)).toBe('m1'); // a model that left keeps its series
  });

  it('admits a value once it becomes known', () => {
    const label = new BoundedLabel(5);
    const names: string[] = [];
    expect(label.value('late', known(names))).toBe('other');
    names.push('late');
    expect(label.value('late', known(names))).toBe('late');
  });

  it('never lets a value pass itself off as the shared label', () => {
    const label = new BoundedLabel(5, 'other');
    expect(label.value('other', () => true)).toBe('other');
    expect(label.size).toBe(0);
  });
});
