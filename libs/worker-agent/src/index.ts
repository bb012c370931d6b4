/**
 * @maas/worker-agent — the agent that runs beside one model runtime (vLLM, llama.cpp server, any
 * OpenAI-compatible server, our simulator): registers it on NATS, reports its load from the
 * runtime's `/metrics`, re-announces it, and drains it on shutdown. `maas worker` is its CLI.
 */
export { WorkerAgent, guessCapabilities } from './worker-agent';
export type { AgentState, WorkerAgentOptions, WorkerRuntimeKind } from './worker-agent';
export { RuntimeClient, runtimeModel } from './runtime-client';
export type { RuntimeHealth, RuntimeModel } from './runtime-client';
export { parseRuntimeLoad, workerLoad } from './runtime-load';
export type { LoadReading, RuntimeFamily } from './runtime-load';
export { sumSamples } from './prometheus-text';
export { freePort, LaunchedRuntime, spawnRuntime } from './launched-runtime';
export type { LaunchedRuntimeOptions, RuntimeExit, RuntimeProcess, SpawnRuntime } from './launched-runtime';
export { LAUNCH_KINDS, runtimeCommand, vllmCommand } from './runtime-command';
export type { LaunchKind, LaunchSpec, RuntimeCommand, RuntimeEndpoint, VllmModelSpec } from './runtime-command';
export { MIN_WORKER_KEY_SECRET_LENGTH, runtimeKeyFor } from './runtime-key';
