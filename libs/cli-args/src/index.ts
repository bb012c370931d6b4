export * from './errors';
export * from './parse';
export * from './run-main';
export * from './spec';
export { synopsisOf, usageOf, wrap } from './usage';
