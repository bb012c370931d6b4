import { Picker } from '../plugin';

/** Where round-robin stands: the last endpoint picked for each model. Plain state, owned by the caller. */
export interface RoundRobinCursor {
  readonly lastPicked: Map<string, string>;
}

export function newRoundRobinCursor(): RoundRobinCursor {
  return { lastPicked: new Map() };
}

/**
 * The baseline: ignores scores and takes the next endpoint by id after the one picked last for
 * this model, so endpoints joining or leaving do not reset the rotation.
 */
export function roundRobinPicker(cursor: RoundRobinCursor) {
  return {
    name: 'round-robin',
    reads: ['id'],
    pick: (req, scored) => {
      const ids = scored.map((s) => s.endpoint.id).sort();
      if (ids.length === 0) return undefined;
      const last = cursor.lastPicked.get(req.model);
      const next = ids.find((id) => last === undefined || id > last) ?? ids[0];
      cursor.lastPicked.set(req.model, next);
      return scored.find((s) => s.endpoint.id === next)?.endpoint;
    },
  } satisfies Picker;
}
