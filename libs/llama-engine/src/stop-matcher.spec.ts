import { StopMatcher } from './stop-matcher';

/** Feeds pieces one by one and returns what a client would have received. */
function feed(stops: string[], pieces: string[]): { sent: string[]; stopped: boolean } {
  const m = new StopMatcher(stops);
  const sent = pieces.map((p) => m.push(p));
  sent.push(m.flush());
  return { sent, stopped: m.stopped };
}

describe('StopMatcher', () => {
  it.each([
    ['no stops: everything passes', [], ['ab', 'c'], ['ab', 'c', ''], false],
    ['a stop inside one piece', ['##'], ['ab##cd'], ['ab', ''], true],
    ['a stop across pieces is held back until decided', ['END'], ['abE', 'N', 'Dxyz'], ['ab', '', '', ''], true],
    ['a false start is released', ['END'], ['abE', 'Nx', 'y'], ['ab', 'ENx', 'y', ''], false],
    ['held text comes out when generation ends', ['END'], ['abEN'], ['ab', 'EN'], false],
    ['the earliest of several stops wins', ['cd', 'b'], ['abcd'], ['a', ''], true],
    ['nothing after the stop', ['x'], ['axb', 'more'], ['a', '', ''], true],
  ])('%s', (_name, stops, pieces, sent, stopped) => {
    expect(feed(stops as string[], pieces as string[])).toEqual({ sent, stopped });
  });
});
