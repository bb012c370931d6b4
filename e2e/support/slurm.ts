import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './saml-idp';

/**
 * A real single-node Slurm cluster for tests (ENVIRONMENT.md's recipe): munged with its own key and
 * socket, slurmctld and slurmd in the foreground as root, custom ports, everything in a temp folder.
 * Clients reach it through `SLURM_CONF`.
 */
export interface StartedSlurm {
  readonly dir: string;
  /** Environment for sbatch/squeue/scancel (and for a service that runs them). */
  readonly env: { SLURM_CONF: string };
  /** The daemons' logs, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const DAEMONS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel'];

/** Why Slurm cannot run here (missing packages, not root), or undefined when it can. */
export function slurmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the test Slurm cluster runs its daemons as root';
  const missing = DAEMONS.filter((d) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((p) => fs.existsSync(path.join(p, d))));
  return missing.length ? `missing ${missing.join(', ')} (apt-get install slurm-wlm munge)` : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function daemon(program: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  try {
    return spawn(program, args, { env, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
}

export async function startSlurm(options: { cpus?: number } = {}): Promise<StartedSlurm> {
  const reason = slurmUnavailable();
  if (reason) throw new Error(`cannot start Slurm: ${reason}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-slurm-'));
  const host = os.hostname();
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const keyDir = path.join(dir, 'munge-key');
  const sockDir = path.join(dir, 'munge');
  for (const d of [keyDir, sockDir, path.join(dir, 'ctld'), path.join(dir, 'd'), path.join(dir, 'log')])
    fs.mkdirSync(d, { recursive: true });
  fs.chmodSync(keyDir, 0o700);
  fs.chmodSync(sockDir, 0o755);
  fs.chmodSync(dir, 0o755);
  const key = path.join(keyDir, 'munge.key');
  fs.writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = path.join(sockDir, 'munge.sock');
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=maastest',
      `SlurmctldHost=${host}(127.0.0.1)`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'MailProg=/bin/true',
      'ReturnToService=2',
      'KillWait=5',
      `StateSaveLocation=${path.join(dir, 'ctld')}`,
      `SlurmdSpoolDir=${path.join(dir, 'd')}`,
      `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${options.cpus ?? os.cpus().length} State=UNKNOWN`,
      // workers mostly wait on I/O: let several share the node's CPUs
      `PartitionName=main Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const log = path.join(dir, 'log', 'daemons.log');
  const children: ChildProcess[] = [];
  const logs = () =>
    ['daemons.log', 'slurmctld.log', 'slurmd.log']
      .map((f) => path.join(dir, 'log', f))
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${path.basename(f)}\n${fs.readFileSync(f, 'utf8').split('\n').slice(-20).join('\n')}`)
      .join('\n');
  const stop = async () => {
    // jobs run under slurmstepd, which outlives slurmd: end them first
    try {
      execFileSync('scancel', ['--full', '--signal=KILL', '--user=root'], { env, stdio: 'ignore' });
      for (let i = 0; i < 50; i += 1) {
        if (execFileSync('squeue', ['-h'], { env, encoding: 'utf8' }).trim() === '') break;
        await sleep(200);
      }
    } catch {
      /* the controller is already gone */
    }
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    children.push(
      daemon(
        'munged',
        [
          '-F',
          '--force',
          `--socket=${socket}`,
          `--key-file=${key}`,
          `--log-file=${path.join(dir, 'log', 'munged.log')}`,
          `--pid-file=${path.join(dir, 'munged.pid')}`,
          `--seed-file=${path.join(dir, 'munged.seed')}`,
        ],
        log,
        env,
      ),
    );
    for (let i = 0; i < 50 && !fs.existsSync(socket); i += 1) await sleep(100);
    if (!fs.existsSync(socket)) throw new Error('munged did not create its socket');
    children.push(daemon('slurmctld', ['-D', '-f', conf], log, env));
    children.push(daemon('slurmd', ['-D', '-f', conf], log, env));
    // the node turns idle a few seconds after slurmd registers
    const deadline = Date.now() + 30_000;
    for (;;) {
      let state = '';
      try {
        state = execFileSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        /* slurmctld not answering yet */
      }
      if (/^idle|^mixed|^allocated/.test(state)) break;
      for (const c of children) if (c.exitCode !== null) throw new Error(`a Slurm daemon exited with ${c.exitCode}`);
      if (Date.now() > deadline) throw new Error(`the Slurm node is not idle after 30 s (state "${state}")`);
      await sleep(300);
    }
  } catch (err) {
    const message = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(message);
  }
  return { dir, env: { SLURM_CONF: conf }, log: logs, stop };
}
