import { LOG_LEVELS } from '@maas/logging';

/** Options several commands declare alike. */
export const logLevelOption = {
  type: 'string',
  choices: LOG_LEVELS,
  default: 'info',
  value: 'LEVEL',
  help: `${LOG_LEVELS.join(', ')}`,
} as const;
