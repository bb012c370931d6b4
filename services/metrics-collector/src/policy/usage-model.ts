import { INVALID_MODEL, isUsableModelName, RequestCompleted } from '@maas/contracts';

export interface UsageModel {
  /** The ledger row's model: the name asked for, or the placeholder when it cannot be stored as sent. */
  readonly ledger: string;
  /** The model whose demand the request counts toward; undefined when it is no model's demand. */
  readonly demand?: string;
}

/**
 * Where a usage event counts. An unusable name (empty, control characters, too long) is recorded under
 * INVALID_MODEL; a name no worker serves (404 model_not_found) stays in its ledger row but is nobody's
 * demand, so clients inventing names never grow the series.
 */
export function usageModel(u: Pick<RequestCompleted, 'model' | 'errorCode'>): UsageModel {
  const usable = isUsableModelName(u.model) && u.model !== INVALID_MODEL;
  if (!usable) return { ledger: INVALID_MODEL };
  if (u.errorCode === 'model_not_found') return { ledger: u.model };
  return { ledger: u.model, demand: u.model };
}
