/**
 * The fleet benchmark's simulated cloud, in its own process so that its CPU is told apart: the mdx
 * API simulator (@maas/mdx-sim, real HTTP) whose VMs, once PowerON, host light worker agents
 * (startLightGuests: real WorkerAgents, one NATS connection per VM, one shared runtime behind them).
 *
 *   node dist/bench/fleet/fleet-host.js --config FILE
 *
 * FILE: {"sim": <mdx-sim config>, "guests": {natsUrl, namespace, runtimeUrl, model, workersPerVm,
 * capacity, heartbeatMs, registerEveryMs, drainTimeoutMs}}. Prints one JSON line when listening and
 * one per guest event (launched, first-request, ended); SIGTERM stops it.
 */
import * as fs from 'node:fs';
import { Logger } from '@maas/logging';
import { parseMdxSimConfig, startLightGuests, startMdxSim } from '@maas/mdx-sim';

export interface FleetHostConfig {
  readonly sim: unknown;
  readonly guests: {
    readonly natsUrl: string;
    readonly namespace: string;
    readonly runtimeUrl: string;
    readonly model: string;
    readonly workersPerVm: number;
    readonly capacity: number;
    readonly heartbeatMs: number;
    readonly registerEveryMs: number;
    readonly drainTimeoutMs: number;
  };
}

const line = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ component: 'fleet-host', ...fields })}\n`);

async function main(): Promise<void> {
  const at = process.argv.indexOf('--config');
  if (at === -1 || !process.argv[at + 1]) throw new Error('fleet-host: give --config FILE');
  const file = process.argv[at + 1];
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as FleetHostConfig;
  const sim = parseMdxSimConfig(config.sim, file);
  const logger = new Logger('fleet-host', 'warn', (text) => process.stderr.write(text));
  const guests = await startLightGuests({ ...config.guests, hardware: 'gpu', logger, onEvent: (e) => line({ event: e.kind, ...e }) });
  const mdx = await startMdxSim({ config: sim, launch: guests.launch, port: 0 });
  line({ event: 'listening', url: mdx.url, frontUrl: guests.frontUrl, pid: process.pid });
  const stats = setInterval(() => line({ event: 'stats', sim: mdx.stats, fleet: mdx.fleet.counters, guests: guests.counters }), 1000);
  const stop = () => {
    clearInterval(stats);
    line({ event: 'stats', sim: mdx.stats, fleet: mdx.fleet.counters, guests: guests.counters });
    void Promise.all([mdx.close(), guests.close()]).then(() => {
      line({ event: 'stopped' });
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
