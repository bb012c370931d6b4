/** The command line is wrong (unknown option, missing or invalid value): exit 2 with one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  /** `command` names who rejected it ("maas keys create"); without one the entry point's name is used. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** --help or -h was given: print `text` on stdout and exit 0. Thrown so that any depth can answer it. */
export class HelpRequest extends Error {
  override readonly name = 'HelpRequest';

  constructor(readonly text: string) {
    super('help requested');
  }
}

/** "--port: expected …, got "x"": the one-line form of a rejected value. */
export function invalidValue(flag: string, expected: string, got: string): UsageError {
  return new UsageError(`--${flag}: expected ${expected}, got "${got}"`);
}
