/** A progress bar on stderr; on a non-terminal it prints a line per 10 % instead of redrawing. */
export class ProgressBar {
  private done = 0;
  private lastDecile = -1;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private label: string,
  ) {
    this.draw();
  }

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    this.draw();
  }

  relabel(label: string): void {
    this.label = label;
    this.draw();
  }

  finish(): void {
    this.done = this.total;
    this.draw();
    if (this.tty) process.stderr.write('\n');
  }

  private draw(): void {
    const fraction = this.total > 0 ? this.done / this.total : 1;
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(0);
    if (this.tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      process.stderr.write(
        `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${elapsed}s\x1b[K`,
      );
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile === this.lastDecile) return;
    this.lastDecile = decile;
    process.stderr.write(`${this.label}: ${this.done}/${this.total} (${(fraction * 100).toFixed(0)} %) ${elapsed}s\n`);
  }
}
