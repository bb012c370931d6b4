import { characterErrorRate, editDistance, wordErrorRate } from './error-rate';

describe('error rates', () => {
  it('counts edits', () => {
    expect(editDistance([...'kitten'], [...'sitting'])).toBe(3);
    expect(editDistance([], ['a'])).toBe(1);
  });

  it('character error rate counts code points, not UTF-16 units or bytes', () => {
    expect(characterErrorRate('धर्म', 'धर्म')).toBe(0);
    expect(characterErrorRate('धर्म', 'धम')).toBe(0.5); // two of four code points lost
    expect(characterErrorRate('a  b\nc', 'a b c')).toBe(0);
  });

  it('word error rate ignores case and punctuation', () => {
    expect(wordErrorRate('Hello, world!', 'hello world')).toBe(0);
    expect(wordErrorRate('the weather is nice today', 'where there is a nice today if')).toBe(4 / 5);
  });
});
