import { LOG_LEVELS } from '@maas/logging';
import { RUNTIME_KEY_ENV } from '@maas/openai-wire';

/** Options several commands declare alike. */
export const logLevelOption = {
  type: 'string',
  choices: LOG_LEVELS,
  default: 'info',
  value: 'LEVEL',
  help: `${LOG_LEVELS.join(', ')}`,
} as const;

/** The key our runtimes (sim-engine, llama-engine, ocr-engine, speech-engine) demand; unset or empty: none. */
export function runtimeKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[RUNTIME_KEY_ENV] || undefined;
}

export const RUNTIME_KEY_HELP = `environment: ${RUNTIME_KEY_ENV}, the key it demands (as vLLM's --api-key): every path but
/health and /metrics then needs "Authorization: Bearer <key>", else 401. Read from the environment
only, never a flag; maas worker --launch and npm start set it.`;
