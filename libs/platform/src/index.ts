export * from './service-definition';
export * from './openai-error.filter';
export * from './platform.module';
export * from './bootstrap';
export * from './health.controller';
export * from './metrics.controller';
export * from './version';
export * from './clock';
