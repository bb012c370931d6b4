export * from './connection';
export * from './bus';
export * from './transport';
