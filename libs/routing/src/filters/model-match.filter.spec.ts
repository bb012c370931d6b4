import { endpoint, ids, request } from '../testing/routing.factory';
import { modelMatchFilter } from './model-match.filter';

describe('modelMatchFilter', () => {
  const pool = [endpoint('a', { models: ['m', 'n'] }), endpoint('b', { models: ['n'] }), endpoint('c', { models: [] })];

  it.each([
    ['m', ['a']],
    ['n', ['a', 'b']],
    ['x', []],
  ])('model %s keeps %j', (model, kept) => {
    expect(ids(modelMatchFilter.filter(request({ model }), pool))).toEqual(kept);
  });

  it('names the model when nothing serves it', () => {
    expect(modelMatchFilter.emptyReason(request({ model: 'qwen2.5-3b' }))).toBe('no worker serves model "qwen2.5-3b"');
  });
});
