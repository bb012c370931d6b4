import * as fs from 'node:fs';
import { ConfigError, env, loadConfig } from '@maas/config';
import type { MdxCredentials } from './repositories/providers/mdx-api';
import type { MdxDeploySpec, MdxPool } from './repositories/providers/mdx.provider';
import {
  resolveScalingSpec,
  ScalingSpec,
  ScalingSpecOverrides,
  SimulatedProviderSpec,
  validateSimulatedProviderSpec,
  defaultSimulatedProviderSpec,
} from '@maas/scaling';

export const PROVIDER_KINDS = ['local', 'slurm', 'simulated', 'mdx', 'kubernetes'] as const;
export type ScalerProviderKind = (typeof PROVIDER_KINDS)[number];

export const vmScalerConfigSpec = {
  /** How often the loop decides (Knative ticks every 2 s; VM decisions need no more). */
  SCALING_TICK_MS: env.duration('5s'),
  /** JSON file of ScalingSpecOverrides (replicas, capacity, models); the built-in default when unset. */
  SCALING_SPEC_FILE: env.optionalString(),
  SCALING_PROVIDER: env.oneOf(PROVIDER_KINDS, 'local'),
  /** An aggregate older than this no longer counts as an observation (the decision turns "not valid"). */
  SCALING_METRIC_MAX_AGE_MS: env.duration('60s'),
  /** Decisions are kept this long in PostgreSQL (every tick is one row of a few kB); the stream keeps its own max age. */
  SCALING_DECISION_RETENTION_MS: env.duration('30d'),
  /** Off: decide and record, but never act (a dry run next to another autoscaler). */
  SCALING_ACT: env.bool(true),
  /** `maas worker` command line of a local process or Slurm job; the VM's own flags are appended. */
  SCALING_WORKER_COMMAND: env.optionalString(),
  /**
   * The NATS credential store (the folder of `maas credentials`, MAAS_NATS_DIR) of the nats-server on this
   * host: each local worker or Slurm job then gets a worker credential of its own, revoked when its node
   * stops. Unset (a site-managed NATS): MAAS_WORKER_NATS_NKEY names the workers' seed file, `{node}` in it
   * replaced by the node id; neither set, workers get no credential (only an unauthenticated NATS takes them).
   */
  SCALING_WORKER_NATS_DIR: env.optionalString(),
  /** Runtime flags of the worker; {model}, {vmType} and {vmId} are substituted. */
  SCALING_WORKER_ARGS: env.string('--sim-profile {vmType} --sim-model {model}'),
  /** Longest wait for a started node's worker to register ready before it counts as failed. */
  SCALING_BOOT_TIMEOUT_MS: env.duration('10m'),
  /** Longest wait for the worker's own drain before a stopped node is killed (only ever after it reported nothing in flight). */
  SCALING_STOP_GRACE_MS: env.duration('2m'),
  /** Passed to the worker: how long it waits for in-flight requests when told to drain. */
  SCALING_WORKER_DRAIN_TIMEOUT_MS: env.duration('30m'),
  /**
   * Where local workers and Slurm jobs write their logs; a temporary directory when unset. With a fixed
   * directory, a vm-scaler started after one that died adopts the local workers it left running.
   */
  SCALING_LOG_DIR: env.optionalString(),
  /** Batch script each Slurm job runs (deploy/slurm/maas-worker.sbatch when unset). */
  SCALING_SLURM_SCRIPT: env.optionalString(),
  /** Extra sbatch flags, e.g. "--partition=gpu --gres=gpu:1 --time=12:00:00". */
  SCALING_SLURM_SBATCH_ARGS: env.optionalString(),
  SCALING_SLURM_POLL_MS: env.duration('2s'),
  /** JSON of SimulatedProviderSpec overrides for SCALING_PROVIDER=simulated. */
  SCALING_SIMULATED: env.string('{}'),
  /** mdx REST API (SCALING_PROVIDER=mdx): the user portal host. */
  SCALING_MDX_URL: env.url('https://oprpl.mdx.jp', ['https', 'http']),
  /** The mdx project whose VMs the pools name. */
  SCALING_MDX_PROJECT: env.optionalString(),
  /** A token issued in the user portal; refreshed while it lives. */
  SCALING_MDX_TOKEN: env.optionalString(),
  /** Login for a new token once one has expired (the API's debug login). */
  SCALING_MDX_USERNAME: env.optionalString(),
  SCALING_MDX_PASSWORD: env.optionalString(),
  /**
   * JSON: {"<vmType>": {"model": "<model>", "vms": ["<vm id>", …], "deploy": {…}}}: deployed VMs whose
   * template runs that model's worker, powered on first; with `deploy` (catalog, templateName, packType,
   * packNum, diskSize, storageNetwork, sharedKey, networkAdapters, max), more are deployed when none is left.
   */
  SCALING_MDX_POOLS: env.optionalString(),
  /** power_on's service_level. */
  SCALING_MDX_SERVICE_LEVEL: env.string('spot'),
  /** First VM status poll after a change; unchanged statuses back off up to 8×. */
  SCALING_MDX_POLL_MS: env.duration('5s'),
  /** A VM whose boot failed is not powered on again for this long. */
  SCALING_MDX_FAILED_VM_HOLD_MS: env.duration('30m'),
  /** Kubernetes (SCALING_PROVIDER=kubernetes): a kubeconfig file; else $KUBECONFIG, ~/.kube/config or the pod's service account. */
  SCALING_KUBERNETES_KUBECONFIG: env.optionalString(),
  /** The namespace of the worker workloads. */
  SCALING_KUBERNETES_NAMESPACE: env.string('open-maas'),
  /** JSON file of the worker Deployment or Knative Service created for a model that has none; {model}, {slug} and {namespace} substituted. */
  SCALING_KUBERNETES_WORKER_TEMPLATE: env.optionalString(),
  /** Where the cluster's nodes come from (stage 2): mdx VMs that join the cluster, or simulated ones. */
  SCALING_KUBERNETES_NODES: env.oneOf(['mdx', 'simulated'] as const, 'mdx'),
};

export const loadVmScalerConfig = () => loadConfig(vmScalerConfigSpec);
export type VmScalerConfig = ReturnType<typeof loadVmScalerConfig>;
export const VM_SCALER_CONFIG = Symbol('VM_SCALER_CONFIG');

/**
 * What runs out of the box (`npm start`): the quick start's two chat models on local simulated-A100
 * workers, one replica per "VM", scaled on request rate (batching engines' concurrency is convex in
 * load). The scaler owns every one of these workers, the first of each model included (minReplicas 1),
 * so what it counts is what serves.
 */
export const defaultScalingOverrides: ScalingSpecOverrides = {
  replicas: { stableWindowSeconds: 60, panicWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 30 },
  capacity: {
    vmTypes: [
      {
        name: 'a100-qwen2.5-3b',
        accelerator: 'gpu',
        costPerHour: 1,
        bootSeconds: 10,
        slots: { 'Qwen/Qwen2.5-3B-Instruct': 1 },
        maxCount: 4,
      },
      { name: 'a100-gpt-oss-20b', accelerator: 'gpu', costPerHour: 1, bootSeconds: 10, slots: { 'openai/gpt-oss-20b': 1 }, maxCount: 2 },
    ],
    maxVms: 6,
    bootMarginSeconds: 20,
    scaleDownDelaySeconds: 300,
    minDrainSeconds: 5,
  },
  models: {
    'Qwen/Qwen2.5-3B-Instruct': {
      metric: 'rps',
      replicaRequestsPerSecond: 5,
      targetUtilization: 0.7,
      maxUtilization: 0.9,
      minReplicas: 1,
      maxReplicas: 4,
    },
    // batch: ~0.9 summaries (6k in, 800 out) per second per simulated A100, as `npm run bench:batch` measures
    'openai/gpt-oss-20b': {
      metric: 'rps',
      replicaRequestsPerSecond: 2,
      targetUtilization: 0.7,
      maxUtilization: 0.9,
      minReplicas: 1,
      maxReplicas: 2,
      batchRequestsPerReplicaPerSecond: 0.9,
    },
  },
};

/** The spec from SCALING_SPEC_FILE (or the default), validated; errors name the file and the key. */
export function loadScalingSpec(file: string | undefined): ScalingSpec {
  let overrides: ScalingSpecOverrides = defaultScalingOverrides;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`config: SCALING_SPEC_FILE ${file} cannot be read: ${(err as Error).message}`);
    }
    try {
      overrides = JSON.parse(text) as ScalingSpecOverrides;
    } catch (err) {
      throw new ConfigError(`config: SCALING_SPEC_FILE ${file} is not JSON: ${(err as Error).message}`);
    }
  }
  const check = resolveScalingSpec(overrides);
  if (!check.ok) throw new ConfigError(`config: SCALING_SPEC_FILE ${file ?? '(default)'}: ${check.error}`);
  return check.spec;
}

/** SCALING_SIMULATED merged into the simulated provider's defaults, validated. */
export function simulatedProviderSpec(raw: string): SimulatedProviderSpec {
  let overrides: Partial<SimulatedProviderSpec>;
  try {
    overrides = JSON.parse(raw) as Partial<SimulatedProviderSpec>;
  } catch (err) {
    throw new ConfigError(`config: SCALING_SIMULATED must be JSON, got ${JSON.stringify(raw)} (${(err as Error).message})`);
  }
  const spec = { ...defaultSimulatedProviderSpec, ...overrides };
  const error = validateSimulatedProviderSpec(spec);
  if (error) throw new ConfigError(`config: SCALING_SIMULATED: ${error}`);
  return spec;
}

/** A pool's `deploy` block: the catalogue template and the VM's shape; errors name the key. */
function mdxDeploySpec(raw: unknown, key: string): MdxDeploySpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config: ${key} must be an object`);
  const d = raw as Record<string, unknown>;
  const text = (name: string, fallback?: string): string => {
    const v = d[name] ?? fallback;
    if (typeof v !== 'string' || v === '') throw new ConfigError(`config: ${key}.${name} must be a non-empty string`);
    return v;
  };
  const int = (name: string, fallback: number | undefined, min: number): number => {
    const v = d[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new ConfigError(`config: ${key}.${name} must be an integer >= ${min}`);
    return v;
  };
  const choice = <T extends string>(name: string, fallback: T, choices: readonly T[]): T => {
    const v = d[name] ?? fallback;
    if (!choices.includes(v as T)) throw new ConfigError(`config: ${key}.${name} must be one of ${choices.join(', ')}`);
    return v as T;
  };
  const adapters = d.networkAdapters ?? [];
  if (!Array.isArray(adapters)) throw new ConfigError(`config: ${key}.networkAdapters must be a list`);
  return {
    catalog: text('catalog'),
    templateName: text('templateName'),
    packType: choice('packType', 'gpu', ['gpu', 'cpu'] as const),
    packNum: int('packNum', 1, 1),
    diskSize: int('diskSize', 40, 1),
    storageNetwork: choice('storageNetwork', 'portgroup', ['sr-iov', 'pvrdma', 'portgroup'] as const),
    sharedKey: text('sharedKey'),
    networkAdapters: adapters,
    max: int('max', undefined, 1),
  };
}

/** The mdx provider's settings, checked together at start-up; errors name the key. */
export function mdxProviderSettings(config: VmScalerConfig): { projectId: string; pools: MdxPool[]; credentials: MdxCredentials } {
  if (!config.SCALING_MDX_PROJECT) throw new ConfigError('config: SCALING_MDX_PROJECT must be set for SCALING_PROVIDER=mdx');
  if (!config.SCALING_MDX_TOKEN && !(config.SCALING_MDX_USERNAME && config.SCALING_MDX_PASSWORD)) {
    throw new ConfigError(
      'config: SCALING_MDX_TOKEN, or SCALING_MDX_USERNAME with SCALING_MDX_PASSWORD, must be set for SCALING_PROVIDER=mdx',
    );
  }
  if (!config.SCALING_MDX_POOLS) throw new ConfigError('config: SCALING_MDX_POOLS must be set for SCALING_PROVIDER=mdx');
  let raw: unknown;
  try {
    raw = JSON.parse(config.SCALING_MDX_POOLS);
  } catch (err) {
    throw new ConfigError(`config: SCALING_MDX_POOLS must be JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new ConfigError('config: SCALING_MDX_POOLS must be an object {"<vmType>": {"model": "...", "vms": ["<vm id>", ...]}}');
  }
  const seen = new Set<string>();
  const pools = Object.entries(raw as Record<string, unknown>).map(([vmType, pool]): MdxPool => {
    const p = pool as { model?: unknown; vms?: unknown; deploy?: unknown };
    if (typeof p?.model !== 'string' || p.model === '')
      throw new ConfigError(`config: SCALING_MDX_POOLS.${vmType}.model must be a model name`);
    const vms = p.vms ?? [];
    if (!Array.isArray(vms) || vms.some((v) => typeof v !== 'string' || v === ''))
      throw new ConfigError(`config: SCALING_MDX_POOLS.${vmType}.vms must be a list of VM ids`);
    if (vms.length === 0 && p.deploy === undefined)
      throw new ConfigError(
        `config: SCALING_MDX_POOLS.${vmType}: give vms (deployed VMs to power on) or deploy (a template to deploy from)`,
      );
    for (const id of vms as string[]) {
      if (seen.has(id)) throw new ConfigError(`config: SCALING_MDX_POOLS.${vmType}.vms: VM ${id} is in two pools`);
      seen.add(id);
    }
    return {
      vmType,
      model: p.model,
      vms: vms as string[],
      ...(p.deploy === undefined ? {} : { deploy: mdxDeploySpec(p.deploy, `SCALING_MDX_POOLS.${vmType}.deploy`) }),
    };
  });
  return {
    projectId: config.SCALING_MDX_PROJECT,
    pools,
    credentials: { token: config.SCALING_MDX_TOKEN, username: config.SCALING_MDX_USERNAME, password: config.SCALING_MDX_PASSWORD },
  };
}
