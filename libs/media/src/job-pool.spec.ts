import { ApiError } from './api-error';
import { JobPool } from './job-pool';

/** A job that runs until released (or cancelled). */
function gate() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const job = (name: string) => (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push(name);
      releases.set(name, () => resolve(name));
      signal.addEventListener('abort', () => reject(Object.assign(new Error('killed'), { name: 'AbortError' })));
    });
  const release = async (name: string) => {
    releases.get(name)?.();
    await new Promise((r) => setImmediate(r));
  };
  return { started, job, release };
}

describe('JobPool', () => {
  it('runs at most `concurrency` jobs and reports requests running and waiting', async () => {
    const pool = new JobPool(2);
    const g = gate();
    const results = ['a', 'b', 'c'].map((n) => pool.run(g.job(n), { owner: n }));
    expect(g.started).toEqual(['a', 'b']);
    expect(pool.load()).toEqual({ running: 2, waiting: 1 });
    await g.release('a');
    expect(g.started).toEqual(['a', 'b', 'c']);
    await g.release('b');
    await g.release('c');
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c']);
    expect(pool.load()).toEqual({ running: 0, waiting: 0 });
  });

  it('rotates between owners so a long request does not starve a short one', async () => {
    const pool = new JobPool(1);
    const g = gate();
    const long = [1, 2, 3, 4].map((i) => pool.run(g.job(`long${i}`), { owner: 'long' }));
    const short = pool.run(g.job('short'), { owner: 'short' });
    await g.release('long1');
    await g.release('long2');
    expect(g.started).toEqual(['long1', 'long2', 'short']);
    // One owner with jobs on a slot and one only waiting.
    expect(pool.load()).toEqual({ running: 1, waiting: 1 });
    await g.release('short');
    await g.release('long3');
    await g.release('long4');
    await Promise.all([...long, short]);
  });

  it('drops a cancelled job from the queue and cancels a running one through its signal', async () => {
    const pool = new JobPool(1);
    const g = gate();
    const running = new AbortController();
    const queued = new AbortController();
    const a = pool.run(g.job('a'), { signal: running.signal });
    const b = pool.run(g.job('b'), { signal: queued.signal });
    queued.abort('client disconnected');
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.waitingJobs).toBe(0);
    running.abort('client disconnected');
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.runningJobs).toBe(0);
    expect(g.started).toEqual(['a']);
  });

  it('refuses work beyond maxWaiting with a 503', async () => {
    const pool = new JobPool(1, 1);
    const g = gate();
    const a = pool.run(g.job('a'));
    const b = pool.run(g.job('b'));
    await expect(pool.run(g.job('c'))).rejects.toMatchObject({ status: 503, code: 'engine_overloaded' } satisfies Partial<ApiError>);
    await g.release('a');
    await g.release('b');
    await Promise.all([a, b]);
  });
});
