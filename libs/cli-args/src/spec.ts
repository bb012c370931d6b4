/** What every declared option has: its help text and where it is listed. */
interface OptionBase {
  /** One sentence for --help; "(default X)" is added when a default is declared and the text names none. */
  readonly help: string;
  /** One-letter alias, without the dash. */
  readonly short?: string;
  /** The value's placeholder in --help: N, FILE, URL (default N for numbers, a|b for choices, else VALUE). */
  readonly value?: string;
  /** Heading the option is listed under in --help (default "options"). */
  readonly group?: string;
}

/** A switch: present or not. */
export interface FlagOption extends OptionBase {
  readonly type: 'boolean';
}

export interface StringOption extends OptionBase {
  readonly type: 'string';
  readonly default?: string;
  readonly required?: boolean;
  readonly multiple?: boolean;
  readonly choices?: readonly string[];
}

export interface NumberOption extends OptionBase {
  readonly type: 'integer' | 'number';
  readonly default?: number;
  readonly required?: boolean;
  readonly multiple?: boolean;
  /** Smallest value accepted. */
  readonly min?: number;
  /** Values must be above this (a positive number: above 0). */
  readonly above?: number;
  readonly max?: number;
}

/** A value read by `parse`; what it throws is reported as a usage error naming the option. */
export interface CustomOption<T> extends OptionBase {
  readonly type: 'custom';
  readonly parse: (text: string) => T;
  readonly default?: T;
  readonly required?: boolean;
  readonly multiple?: boolean;
}

export type OptionDecl = FlagOption | StringOption | NumberOption | CustomOption<unknown>;

export interface PositionalDecl {
  /** Its placeholder in the usage line: ID, USER. */
  readonly name: string;
  readonly help?: string;
  readonly optional?: boolean;
  /** Takes every remaining argument. */
  readonly variadic?: boolean;
}

/** One command's arguments: what `parseArgv` accepts and `usageOf` prints, from one declaration. */
export interface ArgsSpec {
  /** The command as it is typed: "maas keys create", "node scripts/run.js bench/routing.ts". */
  readonly command: string;
  /** What follows the command in the usage line (default: positionals, required options, "[options]"). */
  readonly synopsis?: string;
  /** Paragraphs between the usage line and the options. */
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionDecl>>;
  readonly positionals?: readonly PositionalDecl[];
  /** Paragraphs after the options: environment, notes, examples. */
  readonly epilogue?: string;
}

type Single<O> = O extends FlagOption
  ? boolean
  : O extends { readonly type: 'custom'; readonly parse: (text: string) => infer T }
    ? T
    : O extends NumberOption
      ? number
      : O extends { readonly choices: readonly (infer C)[] }
        ? C
        : string;

type ValueOf<O> = O extends FlagOption
  ? boolean
  : O extends { readonly multiple: true }
    ? Single<O>[]
    : O extends { readonly default: unknown } | { readonly required: true }
      ? Single<O>
      : Single<O> | undefined;

/** The parsed values of a spec's options, typed from their declarations. */
export type Values<S extends ArgsSpec> = { -readonly [K in keyof S['options']]: ValueOf<S['options'][K]> };

export interface Parsed<S extends ArgsSpec> {
  readonly values: Values<S>;
  readonly positionals: string[];
}

/** Declares a command's arguments; keeps the literal types (choices, defaults) that `Values` reads. */
export function defineArgs<const S extends ArgsSpec>(spec: S): S {
  return spec;
}
