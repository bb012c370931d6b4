import { defineArgs, HelpRequest, integerList, parseArgv, UsageError, usageOf } from './index';

const spec = defineArgs({
  command: 'maas things make',
  description: 'Makes things.',
  positionals: [{ name: 'ID', help: 'the thing to make' }],
  options: {
    user: { type: 'string', value: 'EMAIL', required: true, help: 'owner of the thing' },
    port: { type: 'integer', min: 0, max: 65535, default: 8000, help: 'port to listen on' },
    rate: { type: 'number', above: 0, help: 'requests per second' },
    mode: { type: 'string', choices: ['fast', 'slow'], default: 'fast', help: 'how to make it' },
    model: { type: 'string', multiple: true, help: 'a model to announce' },
    every: {
      type: 'custom',
      value: 'DUR',
      default: 1000,
      help: 'interval',
      parse: (text: string) => {
        const m = /^(\d+)s$/.exec(text);
        if (!m) throw new Error(`expected a duration like 2s, got "${text}"`);
        return Number(m[1]) * 1000;
      },
    },
    json: { type: 'boolean', short: 'j', help: 'print JSON' },
    'log-level': { type: 'string', group: 'logging', help: 'debug, info, warn or error' },
  },
  epilogue: 'environment: NATS_URL',
});

const usageError = (argv: string[]): string => {
  try {
    parseArgv(spec, argv);
  } catch (err) {
    if (err instanceof UsageError) return `${err.command}: ${err.message}`;
    throw err;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('parseArgv', () => {
  it('reads every declared type, with defaults, repeats and positionals', () => {
    const { values, positionals } = parseArgv(spec, [
      't1',
      '--user',
      'a@b.c',
      '--port=9',
      '--rate',
      '0.5',
      '--model',
      'a',
      '--model',
      'b',
      '-j',
      '--every',
      '3s',
      '--mode',
      'slow',
    ]);
    expect(positionals).toEqual(['t1']);
    expect(values).toEqual({
      user: 'a@b.c',
      port: 9,
      rate: 0.5,
      mode: 'slow',
      model: ['a', 'b'],
      every: 3000,
      json: true,
      'log-level': undefined,
    });
    const defaults = parseArgv(spec, ['t1', '--user', 'u']).values;
    expect([defaults.port, defaults.mode, defaults.model, defaults.every, defaults.json]).toEqual([8000, 'fast', [], 1000, false]);
  });

  it('keeps the declared types', () => {
    const { values } = parseArgv(spec, ['t1', '--user', 'u']);
    const port: number = values.port;
    const mode: 'fast' | 'slow' = values.mode;
    const rate: number | undefined = values.rate;
    const models: string[] = values.model;
    expect([port, mode, rate, models]).toEqual([8000, 'fast', undefined, []]);
  });

  it.each([
    [['t1', '--user', 'u', '--bogus'], 'maas things make: unknown option --bogus'],
    [['t1', '--user', 'u', '-q'], 'maas things make: unknown option -q'],
    [['t1', '--user'], 'maas things make: --user: missing value EMAIL'],
    [['t1', '--user', '--json'], 'maas things make: --user: missing value EMAIL'],
    [['t1'], 'maas things make: --user EMAIL is required'],
    [['--user', 'u'], 'maas things make: missing ID'],
    [['t1', 't2', '--user', 'u'], 'maas things make: unexpected argument "t2"'],
    [['t1', '--user', 'u', '--port', '70000'], 'maas things make: --port: expected an integer from 0 to 65535, got "70000"'],
    [['t1', '--user', 'u', '--port', '1.5'], 'maas things make: --port: expected an integer from 0 to 65535, got "1.5"'],
    [['t1', '--user', 'u', '--rate', '0'], 'maas things make: --rate: expected a number > 0, got "0"'],
    [['t1', '--user', 'u', '--rate', ''], 'maas things make: --rate: expected a number > 0, got ""'],
    [['t1', '--user', 'u', '--mode', 'medium'], 'maas things make: --mode: expected fast, slow, got "medium"'],
    [['t1', '--user', 'u', '--every', 'soon'], 'maas things make: --every: expected a duration like 2s, got "soon"'],
    [['t1', '--user', 'u', '--json=yes'], 'maas things make: --json takes no value, got "yes"'],
  ])('%j is a usage error: %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  it('answers --help and -h anywhere before "--", even beside errors, with the usage', () => {
    for (const argv of [['--help'], ['t1', '-h'], ['--bogus', '--help'], ['--port', 'x', '-h']]) {
      expect(() => parseArgv(spec, argv)).toThrow(HelpRequest);
    }
    expect(parseArgv(spec, ['--user', 'u', '--', '--help']).positionals).toEqual(['--help']);
    expect(parseArgv(spec, ['x', '--user', '-h']).values.user).toBe('-h');
  });
});

describe('usageOf', () => {
  it('prints the usage line, arguments, options with defaults by group, and the epilogue', () => {
    const text = usageOf(spec);
    expect(text.split('\n')[0]).toBe('usage: maas things make ID --user EMAIL [options]');
    expect(text).toContain('\narguments:\n  ID  the thing to make\n');
    expect(text).toMatch(/\n {2}--user EMAIL +owner of the thing \(required\)\n/);
    expect(text).toMatch(/\n {2}--port N +port to listen on \(default 8000\)\n/);
    expect(text).toMatch(/\n {2}--mode fast\|slow +how to make it \(default fast\)\n/);
    expect(text).toMatch(/\n {2}--model VALUE +a model to announce; repeatable\n/);
    expect(text).toMatch(/\n {2}-j, --json +print JSON\n/);
    expect(text).toMatch(
      /\n {2}-h, --help +print this help and exit\n\nlogging:\n {2}--log-level VALUE +debug, info, warn or error\n\nenvironment: NATS_URL\n$/,
    );
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('wraps long help at the options column', () => {
    const long = usageOf(defineArgs({ command: 'x', options: { a: { type: 'boolean', help: 'word '.repeat(40) } } }));
    const lines = long.split('\n').filter((l) => l.includes('word'));
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {14}word/);
  });
});

describe('integerList', () => {
  const lists = defineArgs({
    command: 'x',
    options: { concurrency: { type: 'custom', parse: integerList(1), default: [1, 16], help: 'client concurrencies' } },
  });

  it('reads integers separated by commas, and names the option when one is not', () => {
    expect(parseArgv(lists, ['--concurrency', '4, 8,64']).values.concurrency).toEqual([4, 8, 64]);
    expect(parseArgv(lists, []).values.concurrency).toEqual([1, 16]);
    for (const text of ['4,,8', '0', '2.5', 'a']) {
      expect(() => parseArgv(lists, ['--concurrency', text])).toThrow(
        `--concurrency: expected integers >= 1 separated by commas, got "${text}"`,
      );
    }
  });
});
