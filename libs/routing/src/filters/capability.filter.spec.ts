import { Capability } from '../endpoint';
import { endpoint, ids, request } from '../testing/routing.factory';
import { capabilityFilter } from './capability.filter';

describe('capabilityFilter', () => {
  const pool = [endpoint('chat', { capabilities: ['chat', 'completion'] }), endpoint('embed', { capabilities: ['embedding'] })];

  it.each<[Capability, string[]]>([
    ['chat', ['chat']],
    ['completion', ['chat']],
    ['embedding', ['embed']],
    ['ocr', []],
  ])('%s keeps %j', (capability, kept) => {
    expect(ids(capabilityFilter.filter(request({ capability }), pool))).toEqual(kept);
  });

  it('says how many workers serve the model but lack the capability', () => {
    expect(capabilityFilter.emptyReason(request({ capability: 'ocr' }), pool)).toBe('no worker for "m" offers ocr (2 workers serving it)');
  });
});
