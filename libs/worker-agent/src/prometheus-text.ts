/**
 * Sums of the samples of each metric in Prometheus text format, over all label sets
 * (`vllm:num_requests_running{model_name="a"} 2` and `{model_name="b"} 1` give 3).
 * Comments, histograms' `_bucket` lines and unparsable lines are skipped.
 */
export function sumSamples(text: string, wanted: ReadonlySet<string>): Map<string, number> {
  const sums = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace !== -1 && (space === -1 || brace < space) ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!wanted.has(name)) continue;
    const afterLabels = brace === nameEnd ? line.indexOf('}', brace) + 1 : nameEnd;
    if (afterLabels <= 0) continue;
    const value = Number(line.slice(afterLabels).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}
