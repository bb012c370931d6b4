import { jobComment, jobNodeState, parseJobComment, parseSqueueJson } from './slurm-queue';

describe('squeue --json', () => {
  it('reads 22.05 and 23.02+ job fields alike', () => {
    const old = {
      jobs: [
        { job_id: 12, name: 'maas-worker', job_state: 'RUNNING', comment: 'c', submit_time: 100, start_time: 101, state_reason: 'None' },
      ],
    };
    const recent = {
      jobs: [
        {
          job_id: 13,
          name: 'maas-worker',
          job_state: ['PENDING'],
          comment: null,
          submit_time: { set: true, number: 200 },
          start_time: { set: true, number: 0 },
          state_reason: 'Resources',
        },
      ],
    };
    expect(parseSqueueJson(JSON.stringify(old))).toEqual([
      { jobId: '12', name: 'maas-worker', state: 'RUNNING', comment: 'c', submitTime: 100, startTime: 101, reason: 'None' },
    ]);
    expect(parseSqueueJson(JSON.stringify(recent))).toEqual([
      { jobId: '13', name: 'maas-worker', state: 'PENDING', comment: '', submitTime: 200, startTime: 0, reason: 'Resources' },
    ]);
    expect(() => parseSqueueJson('slurm_load_jobs error: Unable to contact slurm controller')).toThrow(
      'squeue --json printed something else: slurm_load_jobs error',
    );
  });

  it.each([
    ['PENDING', 'requested'],
    ['CONFIGURING', 'requested'],
    ['RUNNING', 'booting'],
    ['COMPLETING', 'stopping'],
    ['COMPLETED', undefined],
    ['CANCELLED', undefined],
  ])('%s is a %s node', (state, expected) => {
    expect(jobNodeState(state)).toBe(expected);
  });

  it('tags jobs so that a restarted scaler adopts only its own', () => {
    const tag = { namespace: 'maas', vmType: 'a100', model: 'Qwen/Qwen2.5-3B-Instruct' };
    expect(parseJobComment(jobComment(tag))).toEqual(tag);
    expect(parseJobComment('someone else’s job')).toBeUndefined();
    expect(parseJobComment('maas-scaler {"namespace":1}')).toBeUndefined();
  });
});
