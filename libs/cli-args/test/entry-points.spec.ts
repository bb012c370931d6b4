// Every `maas` command and action, and every benchmark, through its real entry point: --help prints
// its usage (exit 0), an unknown option is one line on stderr (exit 2). The lists come from the disk
// (cli/commands/*.ts, their actions, bench/*.ts, package.json's bench:* scripts), so a new one is covered.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(root, 'dist', 'cli', 'main.js');
const BIN = path.join(root, 'bin', 'maas.js');
const RUN = path.join(root, 'scripts', 'run.js');
const UNKNOWN = '--no-such-flag';

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Case {
  readonly name: string;
  readonly argv: readonly string[];
}

const commandFiles = fs
  .readdirSync(path.join(root, 'cli', 'commands'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

/** Each command with its actions (`maas keys create`), read from the modules themselves. */
const commands: string[][] = commandFiles.flatMap((name) => {
  const mod = require(path.join(root, 'cli', 'commands', name)) as { command?: { actions?: Record<string, unknown> } };
  return [[name], ...Object.keys(mod.command?.actions ?? {}).map((action) => [name, action])];
});

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
const benchScripts = Object.entries(pkg.scripts).filter(([name]) => name.startsWith('bench:'));
const benches = [
  ...new Set([
    ...fs
      .readdirSync(path.join(root, 'bench'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .map((f) => `bench/${f}`),
    ...benchScripts.map(([, script]) => script.replace(/^node scripts\/run\.js /, '').split(' ')[0]),
  ]),
].sort();

const cases: Case[] = [
  ...commands.flatMap((words) => [
    { name: `maas ${words.join(' ')} --help`, argv: [CLI, ...words, '--help'] },
    { name: `maas ${words.join(' ')} ${UNKNOWN}`, argv: [CLI, ...words, UNKNOWN] },
  ]),
  ...benches.flatMap((bench) => [
    { name: `${bench} --help`, argv: [RUN, bench, '--help'] },
    { name: `${bench} ${UNKNOWN}`, argv: [RUN, bench, UNKNOWN] },
  ]),
  { name: 'bin/maas.js --help', argv: [BIN, '--help'] },
  { name: 'bin/maas.js --version', argv: [BIN, '--version'] },
  { name: 'bin/maas.js -V', argv: [BIN, '-V'] },
  { name: `bin/maas.js ${UNKNOWN}`, argv: [BIN, UNKNOWN] },
  { name: 'maas sim-engine -h', argv: [CLI, 'sim-engine', '-h'] },
  { name: 'maas sim-engine --port', argv: [CLI, 'sim-engine', '--port'] },
  { name: 'maas keys create --rpm x --user u', argv: [CLI, 'keys', 'create', '--rpm', 'x', '--user', 'u'] },
  { name: 'maas batches list (gateway unreachable)', argv: [CLI, 'batches', 'list', '--key', 'k', '--gateway', 'http://127.0.0.1:1'] },
  {
    name: 'bench/forecast.ts --series (missing file)',
    argv: [RUN, 'bench/forecast.ts', '--series', path.join(root, 'no-such-series.csv')],
  },
];

function run(argv: readonly string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NATS_URL: 'nats://127.0.0.1:1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // a command that does not reject an unknown option would go on to run: stop it rather than wait
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const outcomes = new Map<string, Outcome>();

beforeAll(async () => {
  const queue = [...cases];
  const parallel = Math.max(2, Math.min(4, availableParallelism() * 2));
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) outcomes.set(c.name, await run(c.argv));
    }),
  );
}, 300_000);

const outcome = (name: string): Outcome => {
  const o = outcomes.get(name);
  if (!o) throw new Error(`no outcome for ${name}`);
  return o;
};

/** A usage error or a failure: one line on stderr, nothing on stdout, no stack trace. */
function expectOneLine(o: Outcome, code: number, mentions: string): void {
  expect({ code: o.code, stdout: o.stdout }).toEqual({ code, stdout: '' });
  expect(o.stderr.trimEnd().split('\n')).toEqual([expect.stringContaining(mentions)]);
}

describe('the lists this test is generated from', () => {
  it('finds the commands, their actions, the benchmarks and their npm scripts', () => {
    expect(commandFiles).toEqual(expect.arrayContaining(['batches', 'keys', 'scaling', 'sim-engine', 'users', 'worker']));
    expect(commands).toEqual(
      expect.arrayContaining([
        ['keys', 'create'],
        ['scaling', 'events'],
        ['users', 'end-sessions'],
      ]),
    );
    expect(benches).toEqual(expect.arrayContaining(['bench/routing.ts', 'bench/forecast.ts', 'bench/serving.ts']));
    for (const [name, script] of benchScripts) {
      expect(`${name}: ${script}`).toMatch(/^bench:\S+: node scripts\/run\.js bench\/[\w-]+\.ts/);
      expect(fs.existsSync(path.join(root, script.split(' ')[2]))).toBe(true);
    }
  });
});

describe.each(commands.map((words) => [words.join(' ')]))('maas %s', (words) => {
  it('--help prints its usage on stdout and exits 0', () => {
    const o = outcome(`maas ${words} --help`);
    expect({ code: o.code, stderr: o.stderr }).toEqual({ code: 0, stderr: '' });
    expect(o.stdout.split('\n')[0]).toMatch(new RegExp(`^usage: maas ${words.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`));
  });

  it(`${UNKNOWN} is one line on stderr naming it, exit 2`, () => {
    expectOneLine(outcome(`maas ${words} ${UNKNOWN}`), 2, UNKNOWN);
  });
});

describe.each(benches.map((bench) => [bench]))('node scripts/run.js %s', (bench) => {
  it('--help prints its usage on stdout and exits 0', () => {
    const o = outcome(`${bench} --help`);
    expect({ code: o.code, stderr: o.stderr }).toEqual({ code: 0, stderr: '' });
    expect(o.stdout.split('\n')[0]).toBe(`usage: node scripts/run.js ${bench} [options]`);
  });

  it(`${UNKNOWN} is one line on stderr naming it, exit 2`, () => {
    expectOneLine(outcome(`${bench} ${UNKNOWN}`), 2, UNKNOWN);
  });
});

describe('maas', () => {
  it('--help lists every command', () => {
    const o = outcome('bin/maas.js --help');
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(/^usage: maas <command>/);
    for (const name of commandFiles) expect(o.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });

  it('--version and -V print the version of package.json', () => {
    for (const name of ['bin/maas.js --version', 'bin/maas.js -V'])
      expect(outcome(name)).toEqual({ code: 0, stdout: `maas ${pkg.version}\n`, stderr: '' });
  });

  it('an unknown option before any command is a usage error', () => {
    expectOneLine(outcome(`bin/maas.js ${UNKNOWN}`), 2, UNKNOWN);
  });

  it('-h is --help', () => {
    expect(outcome('maas sim-engine -h')).toEqual(outcome('maas sim-engine --help'));
  });

  it('a missing or invalid value is a usage error naming the option', () => {
    expectOneLine(outcome('maas sim-engine --port'), 2, 'maas sim-engine: --port: missing value N');
    expectOneLine(outcome('maas keys create --rpm x --user u'), 2, 'maas keys create: --rpm: expected an integer >= 1, got "x"');
  });

  it('a failure at run time stays exit 1 with a one-line reason', () => {
    expectOneLine(outcome('maas batches list (gateway unreachable)'), 1, 'maas batches: cannot reach the gateway at http://127.0.0.1:1');
    expectOneLine(outcome('bench/forecast.ts --series (missing file)'), 1, 'bench/forecast: ENOENT');
  });
});
