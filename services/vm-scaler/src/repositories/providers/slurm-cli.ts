import { execFile } from 'node:child_process';
import { parseSqueueJson, SlurmJob } from '../../policy/slurm-queue';

/** The three Slurm commands the provider needs. */
export interface SlurmCommands {
  /** Submits a batch script; resolves with the job id. */
  sbatch(args: readonly string[], env: Readonly<Record<string, string>>): Promise<string>;
  /** Jobs in the queue (pending, running, completing). */
  squeue(): Promise<SlurmJob[]>;
  scancel(args: readonly string[]): Promise<void>;
}

function run(program: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, [...args], { env, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim().split('\n').pop() || err.message;
        reject(new Error(`${program} ${args.join(' ')}: ${detail}`));
      } else resolve(String(stdout));
    });
  });
}

/** The Slurm client commands on PATH, talking to the cluster of SLURM_CONF (or the system's). */
export const slurmCommands: SlurmCommands = {
  async sbatch(args, env) {
    // sbatch sees the job's environment and its own client settings (SLURM_CONF, SBATCH_*), nothing else of ours.
    const client = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => name.startsWith('SLURM_') || name.startsWith('SBATCH_')),
    );
    const out = (await run('sbatch', ['--parsable', ...args], { ...client, ...env })).trim();
    const jobId = out.split(';')[0];
    if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed no job id: ${out.slice(0, 120)}`);
    return jobId;
  },
  async squeue() {
    return parseSqueueJson(await run('squeue', ['--json']));
  },
  async scancel(args) {
    await run('scancel', args);
  },
};
