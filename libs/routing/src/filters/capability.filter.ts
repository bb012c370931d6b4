import { Filter, keepIf } from '../plugin';
import { workers } from './wording';

export const capabilityFilter = {
  name: 'capability',
  reads: ['capabilities'],
  filter: (req, endpoints) => keepIf(endpoints, (e) => e.capabilities.includes(req.capability)),
  emptyReason: (req, endpoints) => `no worker for "${req.model}" offers ${req.capability} (${workers(endpoints.length)} serving it)`,
} satisfies Filter;
