import { Capability, Endpoint } from '../endpoint';

export interface FilterStep {
  readonly name: string;
  readonly kept: readonly string[];
  readonly removed: readonly string[];
  readonly latencyMs: number;
}

export interface ScorerStep {
  readonly name: string;
  readonly weight: number;
  /** Clamped to [0, 1], before weighting. */
  readonly scores: Readonly<Record<string, number>>;
  readonly latencyMs: number;
}

export interface PickStep {
  readonly name: string;
  readonly picked: string | undefined;
  readonly latencyMs: number;
}

/** Everything the pipeline saw and decided, for logs and `explainDecision`. */
export interface RoutingTrace {
  readonly request: { readonly model: string; readonly capability: Capability; readonly prefixBlocks: number };
  readonly filters: readonly FilterStep[];
  readonly scorers: readonly ScorerStep[];
  /** Weighted sums, best first. */
  readonly ranking: readonly { readonly id: string; readonly score: number }[];
  readonly pick?: PickStep;
}

export type RoutingDecision =
  | { readonly outcome: 'picked'; readonly endpoint: Endpoint; readonly trace: RoutingTrace }
  | { readonly outcome: 'no-endpoint'; readonly reason: string; readonly trace: RoutingTrace };

/** A few lines a person can read: what each filter removed, each scorer's view, the pick. */
export function explainDecision(decision: RoutingDecision): string {
  const { request, filters, scorers, ranking, pick } = decision.trace;
  const lines = [`${request.capability} request for "${request.model}", ${request.prefixBlocks} prefix blocks`];
  for (const f of filters) {
    lines.push(
      `  filter ${f.name}: kept ${f.kept.length}${f.removed.length ? `, removed ${f.removed.join(' ')}` : ''}  (${ms(f.latencyMs)})`,
    );
  }
  for (const s of scorers) {
    const scores = Object.entries(s.scores).map(([id, v]) => `${id}=${v.toFixed(3)}`);
    lines.push(`  scorer ${s.name} ×${s.weight}: ${scores.join(' ')}  (${ms(s.latencyMs)})`);
  }
  if (ranking.length) lines.push(`  ranking: ${ranking.map((r) => `${r.id}=${r.score.toFixed(3)}`).join(' ')}`);
  if (pick) lines.push(`  picker ${pick.name}: ${pick.picked ?? 'none'}  (${ms(pick.latencyMs)})`);
  lines.push(
    decision.outcome === 'picked' ? `  → ${decision.endpoint.id} ${decision.endpoint.url}` : `  → no endpoint: ${decision.reason}`,
  );
  return lines.join('\n');
}

const ms = (v: number) => `${v.toFixed(3)} ms`;
