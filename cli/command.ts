/** One `maas` subcommand. `run` returns the process exit code; a thrown Error prints as one line. */
export interface Command {
  /** One line for `maas --help`. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}
