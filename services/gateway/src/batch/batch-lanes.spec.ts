import { assignLanes, interactiveCandidates, LaneWorker } from './batch-lanes';

const w = (id: string, over: Partial<LaneWorker> = {}): LaneWorker => ({ id, state: 'ready', capacity: 128, running: 0, waiting: 0, outstanding: 0, batch: 0, interactive: 0, ...over });
const ids = (s: ReadonlySet<string>) => [...s].sort();

describe('assignLanes', () => {
  it('keeps one worker for interactive traffic and gives the batch the rest', () => {
    const lanes = assignLanes([w('w2'), w('w1'), w('w3')], 1);
    expect(lanes.separate).toBe(true);
    expect(ids(lanes.interactive)).toEqual(['w1']);
    expect(ids(lanes.batch)).toEqual(['w2', 'w3']);
  });

  it('shares the only worker when none would be left for the batch', () => {
    const lanes = assignLanes([w('w1', { batch: 40 })], 1);
    expect(lanes.separate).toBe(false);
    expect(ids(lanes.batch)).toEqual(['w1']);
    expect(ids(lanes.interactive)).toEqual(['w1']);
  });

  it('keeps the lane where the batch is not: the worker with the least batch work is the interactive one', () => {
    const lanes = assignLanes([w('w1', { batch: 48, outstanding: 48 }), w('w2', { batch: 0 })], 1);
    expect(ids(lanes.interactive)).toEqual(['w2']);
    expect(ids(lanes.batch)).toEqual(['w1']);
  });

  it('among workers without batch work, keeps the one already busiest with interactive requests', () => {
    const lanes = assignLanes([w('w1'), w('w2', { interactive: 3, outstanding: 3 })], 1);
    expect(ids(lanes.interactive)).toEqual(['w2']);
  });

  it('grows the interactive lane when interactive requests in flight fill a worker', () => {
    const lanes = assignLanes([w('w1', { capacity: 4, interactive: 4 }), w('w2', { capacity: 4, interactive: 1 }), w('w3', { capacity: 4, batch: 3 })], 1);
    expect(ids(lanes.interactive)).toEqual(['w1', 'w2']);
    expect(ids(lanes.batch)).toEqual(['w3']);
  });

  it('leaves workers that are not ready out of both lanes', () => {
    const lanes = assignLanes([w('w1', { state: 'draining' }), w('w2'), w('w3', { state: 'starting' })], 1);
    expect(lanes.separate).toBe(false);
    expect(ids(lanes.batch)).toEqual(['w2']);
  });

  it('with no interactive lane asked for and none in flight, gives every worker to the batch', () => {
    const lanes = assignLanes([w('w1'), w('w2')], 0);
    expect(lanes.interactive.size).toBe(0);
    expect(ids(lanes.batch)).toEqual(['w1', 'w2']);
  });
});

describe('interactiveCandidates', () => {
  it('avoids workers with batch work while one without has room', () => {
    expect(interactiveCandidates([w('w1', { batch: 48, outstanding: 48 }), w('w2', { interactive: 2, outstanding: 2 })]).map((x) => x.id)).toEqual(['w2']);
  });

  it('falls back to every worker when those without batch work queue or are full', () => {
    const all = [w('w1', { batch: 48, outstanding: 48 }), w('w2', { waiting: 1 }), w('w3', { capacity: 2, outstanding: 2, interactive: 2 })];
    expect(interactiveCandidates(all).map((x) => x.id)).toEqual(['w1', 'w2', 'w3']);
  });
});
