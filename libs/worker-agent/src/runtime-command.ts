import { RUNTIME_KEY_ENV } from '@maas/openai-wire';
import type { WorkerRuntimeKind } from './worker-agent';

/** The runtimes `maas worker --launch` can start. */
export const LAUNCH_KINDS = ['vllm', 'llama-server', 'sim-engine', 'llama-engine'] as const;
export type LaunchKind = (typeof LAUNCH_KINDS)[number];

/** How one model is served by vLLM: what its GPUs and the platform's scheduling need. */
export interface VllmModelSpec {
  /** Hugging Face id or local path of the weights. */
  readonly model: string;
  /** Name clients and the gateway use (`--served-model-name`). */
  readonly servedModelName: string;
  /** GPUs the model is split over. */
  readonly tensorParallelSize?: number;
  /** Context length (prompt + answer) the KV cache is sized for. */
  readonly maxModelLen?: number;
  /** Fraction of each GPU's memory vLLM may take (weights + KV cache). */
  readonly gpuMemoryUtilization?: number;
  /** The gateway sends batch work at a lower priority; vLLM honours it only with priority scheduling. */
  readonly priorityScheduling?: boolean;
}

/** Where the runtime listens and the key it demands. */
export interface RuntimeEndpoint {
  readonly host: string;
  readonly port: number;
  /** Demanded by the runtime on every path but /health and /metrics. */
  readonly apiKey?: string;
}

export interface RuntimeCommand {
  readonly program: string;
  readonly args: readonly string[];
  /**
   * Environment on top of the worker's. The key travels here (VLLM_API_KEY, LLAMA_API_KEY: what
   * --api-key reads when absent; MAAS_RUNTIME_API_KEY for ours), not on the command line, where any
   * user of the host could read it.
   */
  readonly env: Readonly<Record<string, string>>;
  /** What the worker announces; undefined: detected from its /metrics. */
  readonly kind: WorkerRuntimeKind | undefined;
  /** Whether the runtime demands `apiKey` on its API (given one, every kind does). */
  readonly usesApiKey: boolean;
}

/** `vllm serve` for one model spec; `extra` (the arguments after `--`) come last and win. */
export function vllmCommand(spec: VllmModelSpec, at: RuntimeEndpoint, extra: readonly string[] = []): RuntimeCommand {
  const args = ['serve', spec.model, '--host', at.host, '--port', String(at.port), '--served-model-name', spec.servedModelName];
  if (spec.tensorParallelSize !== undefined) args.push('--tensor-parallel-size', String(spec.tensorParallelSize));
  if (spec.maxModelLen !== undefined) args.push('--max-model-len', String(spec.maxModelLen));
  if (spec.gpuMemoryUtilization !== undefined) args.push('--gpu-memory-utilization', String(spec.gpuMemoryUtilization));
  if (spec.priorityScheduling) args.push('--scheduling-policy', 'priority');
  return {
    program: 'vllm',
    args: [...args, ...extra],
    env: at.apiKey ? { VLLM_API_KEY: at.apiKey } : {},
    kind: 'vllm',
    usesApiKey: Boolean(at.apiKey),
  };
}

export interface LaunchSpec {
  readonly kind: LaunchKind;
  /** vLLM's model spec; for the others only `model` (weights file) and `servedModelName` count. */
  readonly model: VllmModelSpec;
  readonly at: RuntimeEndpoint;
  /** `maas` itself (program and script), for the runtimes that are maas commands. */
  readonly maas: readonly string[];
  readonly extra: readonly string[];
}

/** The command line of each runtime kind, with the port, served model name and key it needs. */
export function runtimeCommand(s: LaunchSpec): RuntimeCommand {
  const net = ['--host', s.at.host, '--port', String(s.at.port)];
  const [maas, ...script] = s.maas;
  switch (s.kind) {
    case 'vllm':
      return vllmCommand(s.model, s.at, s.extra);
    case 'llama-server':
      // --metrics: the worker reads its load from /metrics
      return {
        program: 'llama-server',
        args: ['-m', s.model.model, ...net, '--alias', s.model.servedModelName, '--metrics', ...s.extra],
        env: s.at.apiKey ? { LLAMA_API_KEY: s.at.apiKey } : {},
        kind: 'llama.cpp',
        usesApiKey: Boolean(s.at.apiKey),
      };
    case 'sim-engine':
      return {
        program: maas,
        args: [...script, 'sim-engine', ...net, '--model', s.model.servedModelName, ...s.extra],
        env: s.at.apiKey ? { [RUNTIME_KEY_ENV]: s.at.apiKey } : {},
        kind: 'sim-engine',
        usesApiKey: Boolean(s.at.apiKey),
      };
    case 'llama-engine':
      return {
        program: maas,
        args: [...script, 'llama-engine', '--model', s.model.model, '--model-id', s.model.servedModelName, ...net, ...s.extra],
        env: s.at.apiKey ? { [RUNTIME_KEY_ENV]: s.at.apiKey } : {},
        kind: undefined,
        usesApiKey: Boolean(s.at.apiKey),
      };
  }
}
