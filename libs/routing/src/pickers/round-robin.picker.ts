import { Endpoint, RoutingRequest } from '../endpoint';
import { Picker } from '../plugin';
import { endpointsOf } from './max-score.picker';

/** Where round-robin stands: the last endpoint picked for each model. Plain state, owned by the caller. */
export interface RoundRobinCursor {
  readonly lastPicked: Map<string, string>;
}

export function newRoundRobinCursor(): RoundRobinCursor {
  return { lastPicked: new Map() };
}

/**
 * The baseline: ignores scores and takes the next endpoint by id after the one picked last for
 * this model, so endpoints joining or leaving do not reset the rotation. One pass: the smallest id
 * above the last one picked, else the smallest of all (the first of equal ids), no sort.
 */
export function roundRobinPicker(cursor: RoundRobinCursor) {
  const pickIndex = (req: RoutingRequest, endpoints: readonly Endpoint[]): number => {
    const last = cursor.lastPicked.get(req.model);
    let smallest = -1;
    let next = -1;
    for (let i = 0; i < endpoints.length; i++) {
      const id = endpoints[i].id;
      if (smallest < 0 || id < endpoints[smallest].id) smallest = i;
      if ((last === undefined || id > last) && (next < 0 || id < endpoints[next].id)) next = i;
    }
    if (next < 0) next = smallest;
    if (next >= 0) cursor.lastPicked.set(req.model, endpoints[next].id);
    return next;
  };
  return {
    name: 'round-robin',
    reads: ['id'],
    pick: (req, scored) => {
      const i = pickIndex(req, endpointsOf(scored));
      return i < 0 ? undefined : scored[i].endpoint;
    },
    pickIndex,
  } satisfies Picker;
}
