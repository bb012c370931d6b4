import { INVALID_MODEL } from '@maas/contracts';
import { usageModel } from './usage-model';

describe('usageModel', () => {
  it.each([
    [
      'a served model',
      { model: 'Qwen/Qwen2.5-3B-Instruct', errorCode: null },
      { ledger: 'Qwen/Qwen2.5-3B-Instruct', demand: 'Qwen/Qwen2.5-3B-Instruct' },
    ],
    ['a failed request of a served model', { model: 'm', errorCode: 'upstream_unreachable' }, { ledger: 'm', demand: 'm' }],
    ['no model read (invalid JSON)', { model: '', errorCode: 'invalid_json' }, { ledger: INVALID_MODEL }],
    ['the placeholder itself', { model: INVALID_MODEL, errorCode: 'invalid_json' }, { ledger: INVALID_MODEL }],
    ['a NUL in the name', { model: 'qwen\u0000', errorCode: 'model_not_found' }, { ledger: INVALID_MODEL }],
    ['a lone surrogate', { model: 'qwen\ud800', errorCode: null }, { ledger: INVALID_MODEL }],
    ['a name over 256 characters', { model: 'x'.repeat(257), errorCode: null }, { ledger: INVALID_MODEL }],
    ['a name no worker serves', { model: 'made-up', errorCode: 'model_not_found' }, { ledger: 'made-up' }],
  ])('%s', (_what, u, expected) => {
    expect(usageModel(u)).toEqual(expected);
  });

  it('keeps well-formed non-ASCII names', () => {
    expect(usageModel({ model: 'モデル/😀-7b', errorCode: null })).toEqual({ ledger: 'モデル/😀-7b', demand: 'モデル/😀-7b' });
  });
});
