export * from './database';
export * from './namespace';
export * from './process';
