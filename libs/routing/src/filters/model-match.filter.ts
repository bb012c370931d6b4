import { Filter, keepIf } from '../plugin';

export const modelMatchFilter = {
  name: 'model-match',
  reads: ['models'],
  filter: (req, endpoints) => keepIf(endpoints, (e) => e.models.includes(req.model)),
  emptyReason: (req) => `no worker serves model "${req.model}"`,
} satisfies Filter;
