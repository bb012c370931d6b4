/**
 * A metric label over an open set of values (model names as clients send them) held to at most
 * `max` values: a value gets its own label once `known` vouches for it and there is room; any other
 * value — unknown, or past the cap — shares `other`. A value once admitted keeps its label.
 */
export class BoundedLabel {
  private readonly admitted = new Set<string>();

  constructor(
    readonly max: number,
    readonly other = 'other',
  ) {}

  value(raw: string, known: (value: string) => boolean): string {
    if (this.admitted.has(raw)) return raw;
    if (raw === this.other || this.admitted.size >= this.max || !known(raw)) return this.other;
    this.admitted.add(raw);
    return raw;
  }

  get size(): number {
    return this.admitted.size;
  }
}
