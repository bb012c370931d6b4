import { ClientGone } from './http-exchange';

describe('ClientGone', () => {
  it('runs each listener once, in the order added, when the client goes', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    gone.addEventListener('abort', () => calls.push('first'), { once: true });
    gone.addEventListener('abort', () => calls.push('second'));
    expect(gone.aborted).toBe(false);
    gone.abort();
    gone.abort();
    expect(gone.aborted).toBe(true);
    expect(calls).toEqual(['first', 'second']);
  });

  it('does not run a listener removed before the abort, nor one added after it, as with an AbortSignal', () => {
    for (const make of [() => new ClientGone(), () => new AbortController()]) {
      const source = make();
      const signal = source instanceof AbortController ? source.signal : source;
      const calls: string[] = [];
      const removed = () => calls.push('removed');
      signal.addEventListener('abort', removed);
      signal.addEventListener('abort', () => calls.push('kept'));
      signal.removeEventListener('abort', removed);
      source.abort();
      signal.addEventListener('abort', () => calls.push('late'));
      expect(calls).toEqual(['kept']);
    }
  });
});
