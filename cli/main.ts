import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from './command';

/** Subcommands are the modules in ./commands, each exporting `command: Command`; `a-b.js` is `maas a-b`. */
function loadCommands(): Map<string, Command> {
  const dir = path.join(__dirname, 'commands');
  const commands = new Map<string, Command>();
  for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (!file.endsWith('.js') || file.endsWith('.spec.js')) continue;
    const mod = require(path.join(dir, file)) as { command?: Command };
    if (mod.command) commands.set(file.replace(/\.js$/, ''), mod.command);
  }
  return commands;
}

function help(commands: Map<string, Command>): string {
  const width = Math.max(...[...commands.keys()].map((n) => n.length), 8);
  const lines = [...commands.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: maas <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n'maas <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const commands = loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help(commands));
    return name ? 0 : 2;
  }
  const command = commands.get(name);
  if (!command) {
    process.stderr.write(`maas: unknown command "${name}"; run 'maas --help' for the list\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage.trimEnd()}\n`);
    return 0;
  }
  return command.run(rest);
}
