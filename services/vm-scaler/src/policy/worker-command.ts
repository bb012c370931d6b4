/** What a started node runs: `maas worker` with the runtime flags of its type and model. */
export interface WorkerLaunch {
  readonly vmId: string;
  readonly vmType: string;
  readonly model: string;
}

/** Splits a command line on blanks; single or double quotes keep blanks inside one argument. */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = pattern.exec(line); m; m = pattern.exec(line)) args.push(m[1] ?? m[2] ?? m[3]);
  return args;
}

/**
 * The runtime flags with {model}, {vmType} and {vmId} substituted, and the node's own flags added
 * before any `--` (what follows it goes to a launched runtime: `--launch sim-engine … -- --profile …`).
 */
export function workerArgs(template: string, launch: WorkerLaunch, nodeFlags: readonly string[] = []): string[] {
  const args = splitArgs(template).map((arg) =>
    arg.replace(/\{(model|vmType|vmId)\}/g, (_, key: 'model' | 'vmType' | 'vmId') => launch[key]),
  );
  const end = args.indexOf('--');
  return end === -1 ? [...args, ...nodeFlags] : [...args.slice(0, end), ...nodeFlags, ...args.slice(end)];
}

/** Every flag the node needs besides its runtime: who it is, how long it may drain, and its pool. */
export function nodeArgs(vmId: string, drainTimeoutMs: number, pool?: 'batch'): string[] {
  return ['--vm-id', vmId, '--worker-id', vmId, '--drain-timeout', `${Math.max(1, Math.round(drainTimeoutMs / 1000))}s`, ...poolArgs(pool)];
}

/** A batch-pool node's workers register in the model's batch pool: the gateway sends them batch work only. */
export function poolArgs(pool?: 'batch'): string[] {
  return pool === 'batch' ? ['--pool', 'batch'] : [];
}

/** Quotes one argument for a POSIX shell (the Slurm job passes the flags through an environment variable). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
