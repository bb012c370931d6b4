import * as fs from 'node:fs';
import * as path from 'node:path';
import { reportFailure, UsageError } from '@maas/cli-args';
import { Command } from './command';

const COMMANDS = path.join(__dirname, 'commands');

/** Subcommands are the modules in ./commands, each exporting `command: Command`; `a-b.js` is `maas a-b`. */
function commandNames(): string[] {
  const ext = path.extname(__filename);
  return (fs.existsSync(COMMANDS) ? fs.readdirSync(COMMANDS) : [])
    .filter((file) => file.endsWith(ext) && !file.endsWith(`.spec${ext}`) && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -ext.length))
    .sort();
}

/** Loads one command module only, so `maas keys …` does not pay for the others' dependencies. */
function loadCommand(name: string): Command | undefined {
  if (!commandNames().includes(name)) return undefined;
  return (require(path.join(COMMANDS, name)) as { command?: Command }).command;
}

function help(): string {
  const commands = commandNames().flatMap((name) => {
    const command = loadCommand(name);
    return command ? [[name, command.summary] as const] : [];
  });
  const width = Math.max(...commands.map(([n]) => n.length), 8);
  const lines = commands.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`);
  return `usage: maas <command> [options]\n\ncommands:\n${lines.join('\n')}\n\noptions:\n  -h, --help     print this help and exit\n  -V, --version  print the version and exit\n\n'maas <command> --help' for a command's options.\n`;
}

/** The version in the project's package.json (the nearest one above this file, from src/ or dist/). */
export function version(from = __dirname): string {
  for (let dir = from; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'open-maas' && pkg.version) return pkg.version;
    }
  }
  throw new Error(`no package.json of open-maas above ${from}`);
}

/** Node's own parseArgs errors (a command parsing by hand) are usage errors too. */
function asUsageError(err: unknown, command: string): unknown {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_') ? new UsageError((err as Error).message, command) : err;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`maas ${version()}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name.startsWith('-')) return reportFailure(new UsageError(`unknown option ${name}`), 'maas');
  const command = loadCommand(name);
  if (!command) return reportFailure(new UsageError(`unknown command "${name}"`), 'maas');
  try {
    return await command.run(rest);
  } catch (err) {
    return reportFailure(asUsageError(err, `maas ${name}`), `maas ${name}`);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
