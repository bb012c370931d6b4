/** Levenshtein distance between two sequences (substitutions, insertions, deletions all cost 1). */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Character error rate over Unicode code points, whitespace runs counted as one space. */
export function characterErrorRate(reference: string, hypothesis: string): number {
  const norm = (t: string) => [...t.replace(/\s+/g, ' ').trim()];
  const ref = norm(reference);
  return ref.length === 0 ? 0 : editDistance(ref, norm(hypothesis)) / ref.length;
}

/** Word error rate, case and punctuation ignored (recognisers differ in both). */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const words = (t: string) =>
    t
      .toLowerCase()
      .replace(/[^\p{L}\p{N}'\s]/gu, ' ')
      .split(/\s+/)
      .filter(Boolean);
  const ref = words(reference);
  return ref.length === 0 ? 0 : editDistance(ref, words(hypothesis)) / ref.length;
}
