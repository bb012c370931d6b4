/**
 * The one seeded random generator (mulberry32): same seed, same sequence, on every platform. The
 * simulator, the scaling and routing policies and the benchmarks draw from it, so a replay with the
 * same seed makes the same decisions.
 */
export type Rng = () => number;

/** One step: the state after `state`, and the uniform value in [0, 1) it yields. */
export function mulberry32(state: number): { readonly state: number; readonly value: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { state: next, value: ((t ^ (t >>> 14)) >>> 0) / 4294967296 };
}

/** A uniform generator in [0, 1) from `seed`. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    const step = mulberry32(state);
    state = step.state;
    return step.value;
  };
}

/** The same generator with its whole state one visible integer, for policies whose state is saved and replayed. */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    const step = mulberry32(this.state);
    this.state = step.state;
    return step.value;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** Exponentially distributed, with the given mean: inter-arrival times of a Poisson process, think times. */
export function exponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng()) * mean;
}

/** Standard normal (Box–Muller, one of the pair; two draws). */
export function standardNormal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}
