import { SimulatedEngine } from './engine';
import { EngineProfile, WorkloadName } from './profile';

export interface Workload {
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly description: string;
  /** Every request sends the same prompt, so all but the first find it in the prefix cache. */
  readonly samePrompt?: boolean;
}

/**
 * The paper's two tasks as token counts. Its throughput is (prompt + output) tokens per second:
 * concurrency × 1,000 / latency reproduces every single-question cell within 2 %. The split is ours:
 * a short question in a chat template (~100 tokens) and a long, reasoning-style answer.
 */
export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  'single-question': { promptTokens: 100, outputTokens: 900, description: 'single question, ~1,000 tokens in+out (100 in, 900 out)' },
  summary: {
    promptTokens: 6136,
    outputTokens: 800,
    description: 'summarise one 6,136-token paper (800-token summary assumed)',
    samePrompt: true,
  },
};

export interface ClosedLoopResult {
  readonly concurrency: number;
  readonly requests: number;
  /** Mean end-to-end latency, seconds. */
  readonly latencySeconds: number;
  readonly ttftSeconds: number;
  /** (prompt + output) tokens per second over the run, as the paper counts. */
  readonly tokensPerSecond: number;
  readonly durationSeconds: number;
}

/**
 * The paper's experiment in virtual time: `concurrency` clients start together and each sends
 * `rounds` identical requests back to back. Also the smallest example of driving an engine.
 */
export function simulateClosedLoop(profile: EngineProfile, workload: Workload, concurrency: number, rounds = 2): ClosedLoopResult {
  const engine = new SimulatedEngine({ profile, startupSeconds: 0 });
  const blockTokens = profile.blockSize;
  const prefix = workload.samePrompt
    ? { blockTokens, hashes: Array.from({ length: Math.floor(workload.promptTokens / blockTokens) }, (_, i) => i) }
    : undefined;
  let sent = 0;
  const send = (now: number) => {
    engine.submit({ id: `r${sent}`, promptTokens: workload.promptTokens, outputTokens: workload.outputTokens, prefix }, now);
    sent += 1;
  };
  for (let i = 0; i < concurrency; i += 1) send(0);
  let latency = 0;
  let ttft = 0;
  let done = 0;
  let end = 0;
  for (let t = engine.nextEventTime(); t !== undefined; t = engine.nextEventTime()) {
    for (const event of engine.advance(t)) {
      if (event.type !== 'finished') continue;
      latency += event.time - event.arrivedAt;
      ttft += (event.firstTokenAt ?? event.time) - event.arrivedAt;
      done += 1;
      end = event.time;
      if (sent < concurrency * rounds) send(event.time);
    }
  }
  return {
    concurrency,
    requests: done,
    latencySeconds: latency / done,
    ttftSeconds: ttft / done,
    tokensPerSecond: (done * (workload.promptTokens + workload.outputTokens)) / end,
    durationSeconds: end,
  };
}
