import { Filter } from '../plugin';
import { workers } from './wording';

export const drainingFilter = {
  name: 'draining',
  reads: ['state'],
  filter: (_req, endpoints) => endpoints.filter((e) => e.state !== 'draining'),
  emptyReason: (req, endpoints) =>
    endpoints.length === 1
      ? `the only worker for "${req.model}" is draining`
      : `all ${workers(endpoints.length)} for "${req.model}" are draining`,
} satisfies Filter;
