/** Parsers for `type: 'custom'` options that several commands share; each throws what the text is not. */

/** "16,32,48" → [16, 32, 48]: integers of at least `min`, separated by commas. */
export function integerList(min = 1): (text: string) => number[] {
  return (text) =>
    text.split(',').map((part) => {
      const n = Number(part.trim());
      if (part.trim() === '' || !Number.isInteger(n) || n < min)
        throw new Error(`expected integers >= ${min} separated by commas, got "${text}"`);
      return n;
    });
}
