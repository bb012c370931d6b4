import { parseArgs } from 'node:util';
import { HelpRequest, UsageError } from './errors';
import { placeholder, usageOf } from './usage';
import { ArgsSpec, OptionDecl, Parsed, Values } from './spec';

const HELP_FLAGS = new Set(['--help', '-h']);

function expectedNumber(o: OptionDecl & { type: 'integer' | 'number' }): string {
  const what = o.type === 'integer' ? 'an integer' : 'a number';
  if (o.min !== undefined && o.max !== undefined) return `${what} from ${o.min} to ${o.max}`;
  const bounds = [
    o.min !== undefined ? `>= ${o.min}` : '',
    o.above !== undefined ? `> ${o.above}` : '',
    o.max !== undefined ? `<= ${o.max}` : '',
  ].filter(Boolean);
  return bounds.length ? `${what} ${bounds.join(' and ')}` : what;
}

/** One option's text as its declared type; throws a UsageError naming the option. */
function convert(name: string, o: OptionDecl, text: string): unknown {
  switch (o.type) {
    case 'boolean':
      return true;
    case 'string':
      if (o.choices && !o.choices.includes(text)) throw new UsageError(`--${name}: expected ${o.choices.join(', ')}, got "${text}"`);
      return text;
    case 'integer':
    case 'number': {
      const n = Number(text);
      const ok =
        text.trim() !== '' &&
        Number.isFinite(n) &&
        (o.type === 'number' || Number.isInteger(n)) &&
        (o.min === undefined || n >= o.min) &&
        (o.above === undefined || n > o.above) &&
        (o.max === undefined || n <= o.max);
      if (!ok) throw new UsageError(`--${name}: expected ${expectedNumber(o)}, got "${text}"`);
      return n;
    }
    case 'custom':
      try {
        return o.parse(text);
      } catch (err) {
        const message = (err as Error).message;
        throw new UsageError(message.startsWith(`--${name}`) ? message : `--${name}: ${message}`);
      }
  }
}

/**
 * Parses argv against the spec: --help/-h anywhere (before "--") throws a HelpRequest with the usage;
 * an unknown option, a missing or invalid value, a missing or extra positional throws a UsageError
 * that names it. Options take "--name value" or "--name=value"; a value may not start with "--".
 */
export function parseArgv<S extends ArgsSpec>(spec: S, argv: readonly string[]): Parsed<S> {
  const decls: Record<string, OptionDecl> = spec.options;
  const fail = (message: string) => new UsageError(message, spec.command);
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(decls).map(([name, o]) => [
        name,
        { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) } as const,
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === 'option' && HELP_FLAGS.has(t.rawName) && !decls[t.name])) throw new HelpRequest(usageOf(spec));

  const given: Record<string, unknown[]> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = decls[t.name];
    if (!o) throw fail(`unknown option ${t.rawName}`);
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw fail(`--${t.name} takes no value, got "${t.value}"`);
    } else if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))) {
      throw fail(`--${t.name}: missing value ${placeholder(o)}`);
    }
    try {
      (given[t.name] ??= []).push(convert(t.name, o, t.value ?? ''));
    } catch (err) {
      if (err instanceof UsageError) throw fail(err.message);
      throw err;
    }
  }

  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(decls)) {
    const seen = given[name];
    if (o.type === 'boolean') values[name] = seen !== undefined;
    else if (o.multiple) values[name] = seen ?? [];
    else if (seen) values[name] = seen[seen.length - 1];
    else if (o.required) throw fail(`--${name} ${placeholder(o)} is required`);
    else values[name] = o.default;
  }

  const declared = spec.positionals ?? [];
  const needed = declared.filter((p) => !p.optional && !p.variadic);
  if (positionals.length < needed.length)
    throw fail(
      `missing ${needed
        .slice(positionals.length)
        .map((p) => p.name)
        .join(' ')}`,
    );
  if (!declared.some((p) => p.variadic) && positionals.length > declared.length)
    throw fail(`unexpected argument "${positionals[declared.length]}"`);
  return { values: values as Values<S>, positionals };
}
