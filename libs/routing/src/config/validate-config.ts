import { filterCatalog, pickerCatalog, scorerCatalog, show } from './plugin-catalog';
import { RoutingConfig } from './routing-config';

/** A configuration that cannot be built; each problem names the key at fault. */
export class RoutingConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid routing config: ${problems.join('; ')}`);
    this.name = 'RoutingConfigError';
  }
}

type Catalog = Readonly<Record<string, { readonly params: Readonly<Record<string, (v: unknown) => string | undefined>> }>>;

/** Checks untyped input (a config file, an environment variable) and returns it typed, or throws with every problem. */
export function validateRoutingConfig(input: unknown): RoutingConfig {
  const problems: string[] = [];
  if (!isRecord(input)) throw new RoutingConfigError([`config must be an object, got ${show(input)}`]);
  unknownKeys(input, ['filters', 'scorers', 'picker'], '', problems);
  checkList(input.filters, 'filters', filterCatalog, [], problems);
  checkList(input.scorers, 'scorers', scorerCatalog, ['weight'], problems);
  if (isRecord(input.picker)) checkPlugin(input.picker, 'picker', pickerCatalog, [], problems);
  else problems.push(`picker must be an object like { name: "max-score" }, got ${show(input.picker)}`);
  if (problems.length > 0) throw new RoutingConfigError(problems);
  return input as unknown as RoutingConfig;
}

function checkList(list: unknown, key: string, catalog: Catalog, required: string[], problems: string[]): void {
  if (!Array.isArray(list)) {
    problems.push(`${key} must be an array, got ${show(list)}`);
    return;
  }
  const seen = new Set<unknown>();
  list.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (!isRecord(item)) return problems.push(`${at} must be an object like { name: ... }, got ${show(item)}`);
    if (seen.has(item.name)) problems.push(`${at}.name ${show(item.name)} appears twice`);
    seen.add(item.name);
    checkPlugin(item, at, catalog, required, problems);
  });
}

function checkPlugin(item: Record<string, unknown>, at: string, catalog: Catalog, required: string[], problems: string[]): void {
  const known = Object.keys(catalog);
  if (typeof item.name !== 'string' || !Object.hasOwn(catalog, item.name)) {
    problems.push(`${at}.name must be one of ${known.join(', ')}, got ${show(item.name)}`);
    return;
  }
  const params = catalog[item.name].params;
  if (required.includes('weight')) {
    const w = item.weight;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) problems.push(`${at}.weight must be a number ≥ 0, got ${show(w)}`);
  }
  unknownKeys(item, ['name', ...required, ...Object.keys(params)], at, problems);
  for (const [param, check] of Object.entries(params)) {
    if (item[param] === undefined) continue;
    const problem = check(item[param]);
    if (problem) problems.push(`${at}.${param} ${problem}`);
  }
}

function unknownKeys(obj: Record<string, unknown>, allowed: string[], at: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${at ? `${at}.` : ''}${key} is not a known key (expected ${allowed.join(', ')})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
