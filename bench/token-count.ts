/**
 * What the gateway's own token count costs (a runtime that reports no usage): the one-time load of
 * each tokenizer, and the time per request to count a chat prompt of about 2,000 tokens (English,
 * Japanese, code, a tool definition and an image part), against the old characters ÷ 4 estimate.
 *
 *   node scripts/run.js bench/token-count.ts [--tokens 2000] [--iterations 200]
 *
 * Table on stdout, JSON to artifacts/bench/token-count.json. Performance lives here, not in timed tests.
 */
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { getEncoding } from 'js-tiktoken';
import { chatPromptTokens, countTextTokens, TOKENIZERS } from '../services/gateway/src/policy/prompt-tokens';
import { estimateTokens } from '../services/gateway/src/policy/token-usage';
import { writeReport } from './lib/report';

const spec = defineArgs({
  command: 'node scripts/run.js bench/token-count.ts',
  description: `What the gateway's own token count costs when a runtime reports no usage: each tokenizer's one-time load,
and the time per request to count a chat prompt of about 2,000 tokens, against the characters ÷ 4 estimate.`,
  options: {
    tokens: { type: 'integer', min: 1, default: 2000, help: 'prompt size to aim for, in o200k_base tokens' },
    iterations: { type: 'integer', min: 1, default: 200, help: 'timed counts per tokenizer' },
  },
  epilogue: 'JSON goes to artifacts/bench/token-count.json.',
});

const PARTS = [
  'The platform serves open-weight models to researchers across the university; requests arrive in bursts around deadlines. ',
  '大規模言語モデルの推論サービスは、研究室ごとの利用量を記録し、月末に集計します。 ',
  'function quota(used: number, limit: number): number {\n  return Math.max(0, limit - used);\n}\n',
  'Table 3 reports p95 latency of 412 ms at 37 requests/s, and 1,023 ms at 58 requests/s. ',
];

/** A conversation of about `target` tokens: alternating turns of `parts`, a tool, an image. */
function prompt(target: number, parts: readonly string[]): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [{ role: 'system', content: 'You answer questions about the platform.' }];
  const tools = [
    {
      type: 'function',
      function: {
        name: 'usage_report',
        description: 'Monthly usage of a research group',
        parameters: { type: 'object', properties: { group: { type: 'string' }, month: { type: 'string' } } },
      },
    },
  ];
  let i = 0;
  while (chatPromptTokens({ messages, tools }) < target) {
    const role = i % 2 === 0 ? 'user' : 'assistant';
    const text = parts.map((p, j) => parts[(i + j) % parts.length]).join('');
    messages.push(
      i === 2
        ? {
            role,
            content: [
              { type: 'text', text },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          }
        : { role, content: text },
    );
    i += 1;
  }
  return { model: 'bench', messages, tools };
}

const ms = (ns: bigint) => Number(ns) / 1e6;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

interface Row {
  readonly prompt: string;
  readonly count: string;
  readonly tokens: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  /** CPU time of the process per count (wall time includes waiting for a core on a shared machine). */
  readonly cpuMs: number;
  readonly loadMs?: number;
}

function time(prompt: string, count: string, iterations: number, run: () => number, loadMs?: number): Row {
  const times: number[] = [];
  let tokens = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    tokens = run();
    times.push(ms(process.hrtime.bigint() - t));
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  return {
    prompt,
    count,
    tokens,
    medianMs: quantile(times, 0.5),
    p95Ms: quantile(times, 0.95),
    cpuMs: (cpu.user + cpu.system) / 1000 / iterations,
    loadMs,
  };
}

const textChars = (body: Record<string, unknown>) =>
  (body.messages as { content: unknown }[]).reduce(
    (n, m) =>
      n +
      (typeof m.content === 'string'
        ? m.content.length
        : (m.content as { text?: string }[]).reduce((k, p) => k + (typeof p.text === 'string' ? p.text.length : 0), 0)),
    0,
  );

function main(): void {
  const { values } = parseArgv(spec, process.argv.slice(2));
  const target = values.tokens;
  const iterations = values.iterations;
  // First loads, each on its first use: the table is parsed once per process.
  const loads: Record<string, number> = {};
  for (const name of TOKENIZERS) {
    const t = process.hrtime.bigint();
    countTextTokens('x', name);
    loads[name] = ms(process.hrtime.bigint() - t);
  }
  const mixed = prompt(target, PARTS);
  const japanese = prompt(target, [PARTS[1]]);
  const rows: Row[] = [];
  for (const [label, body] of [
    ['mixed', mixed],
    ['Japanese only', japanese],
  ] as const) {
    for (const name of TOKENIZERS) rows.push(time(label, name, iterations, () => chatPromptTokens(body, name), loads[name]));
    rows.push(time(label, 'chars/4 (before)', iterations, () => estimateTokens(textChars(body))));
  }
  // js-tiktoken's own encoder on the same texts (what the counter replaces), fewer rounds: it is slow on CJK.
  const reference = getEncoding('o200k_base');
  for (const [label, body] of [
    ['mixed', mixed],
    ['Japanese only', japanese],
  ] as const) {
    const texts = (body.messages as { content: unknown }[]).map((m) =>
      typeof m.content === 'string' ? m.content : (m.content as { text?: string }[]).map((p) => p.text ?? '').join(''),
    );
    rows.push(
      time(label, 'js-tiktoken encode, o200k_base (text only)', Math.max(1, Math.floor(iterations / 10)), () =>
        texts.reduce((n, t) => n + reference.encode(t, [], []).length, 0),
      ),
    );
  }

  process.stdout.write(`prompts: ${(mixed.messages as unknown[]).length} messages of mixed text (${textChars(mixed)} characters), `);
  process.stdout.write(
    `${(japanese.messages as unknown[]).length} of Japanese (${textChars(japanese)} characters); 1 tool, 1 image part each\n\n`,
  );
  process.stdout.write(
    '| prompt | count | tokens | median ms | p95 ms | CPU ms/count | first load ms |\n|---|---|---:|---:|---:|---:|---:|\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.prompt} | ${r.count} | ${r.tokens} | ${r.medianMs.toFixed(3)} | ${r.p95Ms.toFixed(3)} | ${r.cpuMs.toFixed(3)} | ${r.loadMs === undefined ? '–' : r.loadMs.toFixed(0)} |\n`,
    );
  }
  process.stdout.write(`\nreport: ${writeReport('token-count', { target, iterations, rows })}\n`);
}

runMain('bench/token-count', main);
