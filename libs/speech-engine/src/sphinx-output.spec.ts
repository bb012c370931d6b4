import { parseSphinxTimes } from './sphinx-output';

describe('parseSphinxTimes', () => {
  it('reads utterances, drops fillers and pronunciation variants', () => {
    const output = [
      'where there is a nice day',
      '<s> 0.000 0.060 0.999400',
      'where(2) 0.070 0.360 0.692088',
      'there 0.370 0.550 0.826362',
      '<sil> 1.780 1.870 0.995111',
      '[NOISE] 1.870 1.900 0.5',
      '</s> 1.880 2.120 1.000000',
      'please open the door',
      '<s> 3.550 3.650 0.999700',
      'please 3.660 4.000 0.052790',
      'door 4.550 5.010 0.619926',
      '</s> 5.050 5.470 1.000000',
      '',
    ].join('\n');
    expect(parseSphinxTimes(output)).toEqual([
      {
        words: [
          { word: 'where', start: 0.07, end: 0.36, confidence: 0.692088 },
          { word: 'there', start: 0.37, end: 0.55, confidence: 0.826362 },
        ],
      },
      {
        words: [
          { word: 'please', start: 3.66, end: 4, confidence: 0.05279 },
          { word: 'door', start: 4.55, end: 5.01, confidence: 0.619926 },
        ],
      },
    ]);
  });

  it('skips utterances that were only silence', () => {
    expect(parseSphinxTimes('\n<s> 0.000 0.060 0.9\n<sil> 0.1 0.5 0.9\n</s> 0.5 0.6 1\n')).toEqual([]);
  });
});
