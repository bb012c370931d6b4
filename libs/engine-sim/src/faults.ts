/** Failures to inject, all drawn from the engine's seeded generator so a run can be replayed. */
export interface FaultSpec {
  /** Fraction of requests rejected at submission with a server error. */
  readonly errorRate?: number;
  /** Fraction of requests that break mid-generation, after a uniformly drawn number of tokens. */
  readonly abortRate?: number;
  /** The engine crashes when this many requests have finished; everything in flight fails. */
  readonly crashAfterRequests?: number;
  /** Stalls of the whole engine (GC, NCCL hiccup, noisy neighbour): mean gap between them, in seconds. */
  readonly spikeEverySeconds?: number;
  /** How long each stall lasts, in seconds. */
  readonly spikeSeconds?: number;
}

/** Throws with the offending field named, so a bad flag or config fails at start-up. */
export function validateFaults(faults: FaultSpec): FaultSpec {
  const rate = (name: keyof FaultSpec) => {
    const v = faults[name];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new Error(`faults.${name} must be within [0, 1], got ${v}`);
  };
  const positive = (name: keyof FaultSpec) => {
    const v = faults[name];
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new Error(`faults.${name} must be a positive number, got ${v}`);
  };
  rate('errorRate');
  rate('abortRate');
  positive('crashAfterRequests');
  positive('spikeEverySeconds');
  positive('spikeSeconds');
  if ((faults.spikeEverySeconds === undefined) !== (faults.spikeSeconds === undefined)) {
    throw new Error('faults.spikeEverySeconds and faults.spikeSeconds go together');
  }
  return faults;
}
