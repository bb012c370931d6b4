import { Endpoint } from '../endpoint';
import { Filter, keepIf } from '../plugin';
import { workers } from './wording';

const notDraining = (e: Endpoint) => e.state !== 'draining';

export const drainingFilter = {
  name: 'draining',
  reads: ['state'],
  filter: (_req, endpoints) => keepIf(endpoints, notDraining),
  emptyReason: (req, endpoints) =>
    endpoints.length === 1
      ? `the only worker for "${req.model}" is draining`
      : `all ${workers(endpoints.length)} for "${req.model}" are draining`,
} satisfies Filter;
