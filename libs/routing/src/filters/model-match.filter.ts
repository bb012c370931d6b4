import { Filter } from '../plugin';

export const modelMatchFilter = {
  name: 'model-match',
  reads: ['models'],
  filter: (req, endpoints) => endpoints.filter((e) => e.models.includes(req.model)),
  emptyReason: (req) => `no worker serves model "${req.model}"`,
} satisfies Filter;
