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
