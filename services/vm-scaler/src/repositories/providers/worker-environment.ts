import { NatsCredentialStore } from '@maas/nats';

/** Variables a worker needs from the scaler's own environment: the system's, its runtimes' (GPU, model cache), and its own. */
const PASSED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TERM',
  'LD_LIBRARY_PATH',
  'NODE_EXTRA_CA_CERTS',
  // NATS: where the CA is (the worker's credential is set by the scaler), and the development opt-out.
  'NATS_CA',
  'MAAS_NATS_INSECURE',
  // Derives the key each launched runtime demands; the gateways hold the same.
  'MAAS_WORKER_KEY_SECRET',
]);
const PASSED_PREFIXES = ['LC_', 'CUDA_', 'NVIDIA_', 'HF_', 'VLLM_', 'OMP_'];

/**
 * A worker's whole environment: the allow-listed part of the scaler's, then `own` (NATS_URL,
 * MAAS_NAMESPACE…). Nothing else passes — not DATABASE_URL, not the scaler's cloud credentials.
 */
export function workerEnvironment(parent: NodeJS.ProcessEnv, own: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && (PASSED_NAMES.has(name) || PASSED_PREFIXES.some((p) => name.startsWith(p)))) env[name] = value;
  }
  return { ...env, ...own };
}

/**
 * Where the workers of a node the scaler starts get their NATS credential. Only a path travels (NATS_NKEY
 * names the seed file), in the worker's environment: never the seed, never a command line or a log line.
 */
export interface WorkerCredentials {
  /** The environment signing in the workers of `node` (NATS_NKEY, NATS_CA), allowed to speak for `workerIds`. */
  issue(node: string, workerIds: readonly string[]): Readonly<Record<string, string>>;
  /** `node` learnt its worker ids after it was issued (a Slurm job is named once queued): its credential now speaks for them. */
  grant(node: string, workerIds: readonly string[]): void;
  /** The node of worker `workerId` stopped: the credential that speaks for it alone stops working. */
  revoke(workerId: string): void;
}

/**
 * A worker credential per node from the NATS credential store of a nats-server on this host (what
 * `maas credentials issue worker --node X` does): issued when the node starts, its permissions changed
 * when its worker ids are known, revoked when it stops; the server reloads its config each time.
 */
export class IssuedWorkerCredentials implements WorkerCredentials {
  constructor(
    private readonly store: NatsCredentialStore,
    private readonly warn: (msg: string, fields: Record<string, unknown>) => void,
  ) {}

  issue(node: string, workerIds: readonly string[]): Readonly<Record<string, string>> {
    const identity = this.store.issueWorker(node, workerIds);
    this.reload(`issued ${identity.name}`);
    return this.store.envFor(identity.name);
  }

  grant(node: string, workerIds: readonly string[]): void {
    this.store.grantWorkerIds(`worker-${node}`, workerIds);
    this.reload(`granted worker-${node} worker ids ${workerIds.join(', ')}`);
  }

  /** Never throws: it runs as a node ends, where a failure can only be reported. */
  revoke(workerId: string): void {
    try {
      const own = this.store
        .identities()
        .filter((i) => i.role === 'worker' && i.workerIds?.length === 1 && i.workerIds[0] === workerId)
        .map((i) => i.name);
      for (const name of own) this.store.revoke(name);
      if (own.length) this.reload(`revoked ${own.join(', ')}`);
    } catch (err) {
      this.warn('could not revoke the NATS credential of a stopped node', {
        workerId,
        error: (err as Error).message,
        store: this.store.dir,
      });
    }
  }

  private reload(change: string): void {
    if (!this.store.reload())
      this.warn('no nats-server runs from the credential store: the change applies when it reloads its config', {
        change,
        store: this.store.dir,
      });
  }
}

/**
 * Credentials the operator provides (a site-managed NATS): `seedFile` names each node's seed, `{node}`
 * replaced by the node; the same file for every node without it. None: the workers get no credential,
 * which only a NATS without authentication (MAAS_NATS_INSECURE) accepts.
 */
export class ProvidedWorkerCredentials implements WorkerCredentials {
  constructor(private readonly seedFile?: string) {}

  issue(node: string): Readonly<Record<string, string>> {
    return this.seedFile ? { NATS_NKEY: this.seedFile.split('{node}').join(node) } : {};
  }

  grant(): void {}

  revoke(): void {}
}
