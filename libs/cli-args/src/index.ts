/**
 * Command-line arguments from one declaration: the options with their types, bounds and help text give
 * both the parsing (with one-line usage errors naming the option) and the --help text.
 *
 *   const spec = defineArgs({ command: 'maas thing', options: { port: { type: 'integer', min: 0, default: 8000, help: 'port' } } });
 *   runMain('maas thing', () => serve(parseArgv(spec, process.argv.slice(2)).values.port));
 *
 * Exit codes: 0 done or --help, 1 failed, 2 usage error.
 */
export * from './errors';
export * from './parse';
export * from './run-main';
export * from './spec';
export { synopsisOf, usageOf, wrap } from './usage';
export * from './values';
