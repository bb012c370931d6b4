import { ArgsSpec, OptionDecl } from './spec';

const WIDTH = 100;
const MAX_LABEL = 26;

/** Words of `text` in lines: the first at most `first` wide, the rest `rest`; "\n" starts a new line. */
export function wrap(text: string, first: number, rest: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const limit = lines.length === 0 ? first : rest;
      if (line && line.length + 1 + word.length > limit) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

/** The value's placeholder: the declared one, the choices, N for numbers, else VALUE. */
export function placeholder(o: OptionDecl): string {
  if (o.value) return o.value;
  if (o.type === 'integer' || o.type === 'number') return 'N';
  if (o.type === 'string' && o.choices) return o.choices.join('|');
  return 'VALUE';
}

function positionalsOf(spec: ArgsSpec): string[] {
  return (spec.positionals ?? []).map((p) => {
    const name = p.variadic ? `${p.name}...` : p.name;
    return p.optional || p.variadic ? `[${name}]` : name;
  });
}

/** What follows the command: positionals, required options, then "[options]" when others exist. */
export function synopsisOf(spec: ArgsSpec): string {
  if (spec.synopsis !== undefined) return spec.synopsis;
  const options = Object.entries(spec.options);
  const required = options.filter(([, o]) => o.type !== 'boolean' && o.required).map(([name, o]) => `--${name} ${placeholder(o)}`);
  const optional = options.some(([, o]) => o.type === 'boolean' || !o.required) ? ['[options]'] : [];
  return [...positionalsOf(spec), ...required, ...optional].join(' ');
}

function labelOf(name: string, o: OptionDecl): string {
  const flag = `${o.short ? `-${o.short}, ` : ''}--${name}`;
  return o.type === 'boolean' ? flag : `${flag} ${placeholder(o)}`;
}

function helpOf(o: OptionDecl): string {
  let help = o.help.trim();
  const fallback = o.type === 'boolean' ? undefined : o.default;
  if (fallback !== undefined && fallback !== '' && !/\bdefault\b/.test(help))
    help += ` (default ${Array.isArray(fallback) ? fallback.join(',') : String(fallback)})`;
  if (o.type !== 'boolean' && o.required && !/\brequired\b/.test(help)) help += ' (required)';
  if (o.type !== 'boolean' && o.multiple && !/\brepeat/.test(help)) help += '; repeatable';
  return help;
}

/** The column help starts at: after the longest label, up to a limit. */
function columnOf(labels: string[]): number {
  return 2 + Math.min(MAX_LABEL, Math.max(0, ...labels.map((label) => label.length))) + 2;
}

/** Rows of "  label   help", the help wrapped at `column` (a longer label pushes its first line right). */
function rows(entries: Array<[string, string]>, column: number): string[] {
  return entries.flatMap(([label, help]) => {
    const start = Math.max(column, 2 + label.length + 2);
    const [head, ...tail] = wrap(help, WIDTH - start, WIDTH - column);
    return [`  ${label.padEnd(start - 4)}  ${head}`.trimEnd(), ...tail.map((line) => `${' '.repeat(column)}${line}`)];
  });
}

/** The full --help text of a spec: usage line, description, arguments, options by group, epilogue. */
export function usageOf(spec: ArgsSpec): string {
  const out = [`usage: ${spec.command} ${synopsisOf(spec)}`.trimEnd()];
  if (spec.description) out.push('', spec.description.trim());
  const described = (spec.positionals ?? []).filter((p) => p.help);
  if (described.length)
    out.push(
      '',
      'arguments:',
      ...rows(
        described.map((p) => [p.name, p.help!]),
        columnOf(described.map((p) => p.name)),
      ),
    );
  const groups = new Map<string, Array<[string, string]>>();
  for (const [name, o] of Object.entries(spec.options)) {
    const group = o.group ?? 'options';
    groups.set(group, [...(groups.get(group) ?? []), [labelOf(name, o), helpOf(o)]]);
  }
  groups.set('options', [...(groups.get('options') ?? []), ['-h, --help', 'print this help and exit']]);
  const column = columnOf([...groups.values()].flat().map(([label]) => label));
  for (const [group, entries] of groups) out.push('', `${group}:`, ...rows(entries, column));
  if (spec.epilogue) out.push('', spec.epilogue.trim());
  return `${out.join('\n')}\n`;
}
