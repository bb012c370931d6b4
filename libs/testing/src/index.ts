import './insecure-nats';
export * from './database';
export * from './namespace';
export * from './process';
export * from './messages';
export * from './nats-server';
export * from './system-parts';
export * from './nats-cluster';
