import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defineArgs, UsageError } from '@maas/cli-args';
import { MdxSimConfig, parseMdxSimConfig, processGuests, startMdxSim } from '@maas/mdx-sim';
import { Command, defineCommand } from '../command';

const spec = defineArgs({
  command: 'maas mdx-sim',
  synopsis: '--config FILE [options]',
  description: `Simulates the mdx research cloud's REST API for the vm-scaler's mdx provider: JWT login and
refresh (tokens expire), 202 + asynchronous power_on / shutdown / power_off with boot times drawn
from a seeded distribution and a fraction of failed boots, VM and paged project listings, 429 with
Retry-After past a rate limit. A VM that reaches PowerON runs what its template would: the
\`maas worker\` arguments given for it in the config (with --vm-id and --worker-id set to its id).`,
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      required: true,
      help: 'JSON: users, projects and their VMs, tokenTtlSeconds, bootSeconds, bootFailureRate, rateLimit, env',
    },
    port: { type: 'integer', min: 0, max: 65535, default: 8380, help: 'port to listen on; 0 picks a free one' },
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', help: 'address to bind' },
    'log-dir': { type: 'string', value: 'DIR', help: "where each VM's worker writes <vm id>.log (default: a temporary directory)" },
    seed: { type: 'integer', min: 0, help: "seed of boot times and failures (default: the config's)" },
  },
  epilogue: `Not part of the mdx API: GET /_sim/stats (logins, refreshes, 401s by cause, 429s, power
operations) and GET /_sim/vms. Prints one JSON line when listening (with the URL); SIGTERM or
SIGINT kill every guest and stop.`,
});

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', component: 'mdx-sim', ...fields })}\n`);
}

/** The open-maas checkout this command runs from (from src/ or dist/). */
function checkout(from = __dirname): string {
  for (let dir = from; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'bin', 'maas.js')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no open-maas checkout above ${from}`);
}

function readConfig(file: string): MdxSimConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config: cannot read ${file}: ${(err as Error).message}`, spec.command);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config: ${file} is not JSON: ${(err as Error).message}`, spec.command);
  }
  return parseMdxSimConfig(raw, file);
}

export const command: Command = defineCommand(
  'simulate the mdx cloud API; its VMs run `maas worker` once powered on',
  spec,
  async ({ values }) => {
    const loaded = readConfig(values.config);
    const config = values.seed === undefined ? loaded : { ...loaded, seed: values.seed };
    const logDir = values['log-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'maas-mdx-sim-'));
    // the worker runs from the same checkout as this command
    const maas = config.maasCommand ?? [process.execPath, path.join(checkout(), 'bin', 'maas.js')];
    const sim = await startMdxSim({ config, launch: processGuests(config, logDir, maas), host: values.host, port: values.port });
    log({
      event: 'listening',
      url: sim.url,
      port: sim.port,
      logDir,
      vms: config.projects.reduce((n, p) => n + p.vms.length, 0),
      pid: process.pid,
    });
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void sim.close().then(() => {
          log({ event: 'stopped', signal });
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
);
