/** Counts the comparisons a match makes (to show the matcher's cost is bounded). */
export interface MatchSteps {
  steps: number;
}

/**
 * Whether `name` matches `glob` (`*` any run of characters, `?` one). Backtracks only to the most
 * recent `*`, so a match costs at most |glob| × |name| steps: `*a*a*a*a*a*a*b` cannot blow up as a
 * backtracking regular expression does.
 */
export function globMatches(glob: string, name: string, count?: MatchSteps): boolean {
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    if (count) count.steps++;
    if (p < glob.length && glob[p] === '*') {
      starP = p++;
      starN = n;
    } else if (p < glob.length && (glob[p] === '?' || glob[p] === name[n])) {
      p++;
      n++;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (p < glob.length && glob[p] === '*') p++;
  return p === glob.length;
}

/** Compiles a key's model globs; an empty list allows every model. */
export function modelMatcher(globs: readonly string[]): (model: string) => boolean {
  if (globs.length === 0) return () => true;
  return (model) => globs.some((g) => globMatches(g, model));
}
