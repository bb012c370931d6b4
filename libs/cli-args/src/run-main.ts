import { HelpRequest, UsageError } from './errors';

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/**
 * What an entry point prints for what its main threw, and the exit code: the help on stdout (0), a
 * usage error (2) or any other failure (1) as one line on stderr, "<name>: <reason>", no stack.
 */
export function reportFailure(err: unknown, name: string): number {
  if (err instanceof HelpRequest) {
    process.stdout.write(err.text);
    return 0;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${err.command ?? name}: ${oneLine(err.message)} (see --help)\n`);
    return 2;
  }
  process.stderr.write(`${name}: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
  return 1;
}

/**
 * Runs a script's main and exits by its result: the number it returns (0 when none), else as
 * `reportFailure` says. A failure exits at once, so servers and timers it left behind do not hold
 * the process.
 */
export function runMain(name: string, main: () => Promise<number | void> | number | void): void {
  const fail = (err: unknown) => {
    const code = reportFailure(err, name);
    if (code === 1) process.exit(1);
    process.exitCode = code;
  };
  try {
    Promise.resolve(main()).then((code) => {
      process.exitCode = code ?? 0;
    }, fail);
  } catch (err) {
    fail(err);
  }
}
