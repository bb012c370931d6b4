import { ArgsSpec, HelpRequest, parseArgv, Parsed, UsageError, usageOf, wrap } from '@maas/cli-args';

/**
 * One `maas` subcommand. `run` answers --help itself (a HelpRequest) and returns the exit code; a thrown
 * UsageError exits 2, any other Error 1, both as one line.
 */
export interface Command {
  /** One line for `maas --help`. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly usage: string;
  /** Its actions by name, when it has some (`maas keys create`); each answers its own --help. */
  readonly actions?: Readonly<Record<string, Command>>;
  run(argv: string[]): Promise<number>;
}

/** A command whose arguments are one declaration: `run` gets them parsed, --help and usage errors are answered for it. */
export function defineCommand<S extends ArgsSpec>(summary: string, spec: S, run: (args: Parsed<S>) => Promise<number>): Command {
  return { summary, usage: usageOf(spec), run: (argv) => run(parseArgv(spec, argv)) };
}

export interface CommandGroup {
  /** As typed: "maas keys". */
  readonly command: string;
  readonly summary: string;
  readonly description: string;
  readonly actions: Readonly<Record<string, Command>>;
  readonly epilogue?: string;
}

/** A command made of actions (`maas keys create|list|revoke`): its --help lists them, each action has its own. */
export function defineCommandGroup(group: CommandGroup): Command {
  const names = Object.keys(group.actions);
  const listing = Object.values(group.actions).flatMap((action) => [
    `  ${action.usage.split('\n')[0].replace(/^usage: /, '')}`,
    ...wrap(action.summary, 92, 92).map((line) => `      ${line}`),
  ]);
  const usage = [
    `usage: ${group.command} <${names.join('|')}> [options]`,
    '',
    group.description.trim(),
    '',
    ...listing,
    '',
    `'${group.command} <action> --help' lists an action's options.`,
    ...(group.epilogue ? ['', group.epilogue.trim()] : []),
  ].join('\n');
  const choices = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names.join('');
  return {
    summary: group.summary,
    usage: `${usage}\n`,
    actions: group.actions,
    async run(argv) {
      const [name, ...rest] = argv;
      if (name === '--help' || name === '-h') throw new HelpRequest(`${usage}\n`);
      if (name === undefined) throw new UsageError(`give an action: ${choices}`, group.command);
      if (name.startsWith('-')) throw new UsageError(`unknown option ${name}; give an action first: ${choices}`, group.command);
      const action = group.actions[name];
      if (!action) throw new UsageError(`unknown action "${name}"; use ${choices}`, group.command);
      return action.run(rest);
    },
  };
}
