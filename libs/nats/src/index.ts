export * from './connection';
export * from './bus';
export * from './transport';
export { headerCarrier, setMessageTrace } from './tracing';
export type { MessageTrace } from './tracing';
export * from './permissions';
export * from './credential-store';
export * from './server-config';
