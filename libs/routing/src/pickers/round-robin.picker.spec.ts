import { ScoredEndpoint } from '../plugin';
import { endpoint, request } from '../testing/routing.factory';
import { newRoundRobinCursor, roundRobinPicker } from './round-robin.picker';

const scored = (...ids: string[]): ScoredEndpoint[] => ids.map((id, i) => ({ endpoint: endpoint(id), score: i }));

describe('roundRobinPicker', () => {
  it('cycles through the candidates in id order, ignoring scores', () => {
    const picker = roundRobinPicker(newRoundRobinCursor());
    const seq = Array.from({ length: 5 }, () => picker.pick(request(), scored('c', 'a', 'b'))?.id);
    expect(seq).toEqual(['a', 'b', 'c', 'a', 'b']);
  });

  it.each([
    ['a worker joins after the cursor', 'b', ['a', 'b', 'c', 'd'], 'c'],
    ['the last picked worker left', 'b', ['a', 'c'], 'c'],
    ['the cursor was at the end', 'c', ['a', 'b', 'c'], 'a'],
  ])('carries on when %s', (_case, last, pool, next) => {
    const cursor = newRoundRobinCursor();
    cursor.lastPicked.set('m', last);
    expect(roundRobinPicker(cursor).pick(request(), scored(...pool))?.id).toBe(next);
  });

  it('keeps one rotation per model, in the state it was given', () => {
    const cursor = newRoundRobinCursor();
    const picker = roundRobinPicker(cursor);
    picker.pick(request({ model: 'm' }), scored('a', 'b'));
    picker.pick(request({ model: 'n' }), scored('a', 'b'));
    picker.pick(request({ model: 'm' }), scored('a', 'b'));
    expect(Object.fromEntries(cursor.lastPicked)).toEqual({ m: 'b', n: 'a' });
  });

  it('picks nothing from nothing', () => {
    expect(roundRobinPicker(newRoundRobinCursor()).pick(request(), [])).toBeUndefined();
  });
});
