/** Compiles a key's model globs (`*` any run of characters, `?` one); an empty list allows every model. */
export function modelMatcher(globs: readonly string[]): (model: string) => boolean {
  if (globs.length === 0) return () => true;
  const patterns = globs.map(
    (g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`),
  );
  return (model) => patterns.some((p) => p.test(model));
}
