export * from './connection';
export * from './bus';
export * from './transport';
export { headerCarrier, setMessageTrace } from './tracing';
export type { MessageTrace } from './tracing';
