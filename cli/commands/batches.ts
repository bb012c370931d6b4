import { defineArgs, UsageError } from '@maas/cli-args';
import { Command, defineCommand, defineCommandGroup } from '../command';

/** The fields of an OpenAI batch object this command shows. */
export interface BatchView {
  id: string;
  status: string;
  endpoint?: string;
  input_file_id?: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at?: number;
  in_progress_at?: number | null;
  finalizing_at?: number | null;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelling_at?: number | null;
  cancelled_at?: number | null;
  expires_at?: number | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  errors?: { data?: Array<{ code?: string; message?: string; line?: number | null }> } | null;
  metadata?: Record<string, string> | null;
}

const time = (s: number | null | undefined) => (s ? new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

/** "1,234/2,000 (61.7 %)": finished (completed + failed) of total. */
export function progressOf(b: BatchView): string {
  const c = b.request_counts;
  if (!c || c.total === 0) return '-';
  const done = c.completed + c.failed;
  return `${done.toLocaleString('en-US')}/${c.total.toLocaleString('en-US')} (${((done / c.total) * 100).toFixed(1)} %)`;
}

/** One line per batch for `list`. */
export function formatBatchLine(b: BatchView): string {
  const c = b.request_counts;
  return [
    b.id,
    b.status.padEnd(11),
    c ? `completed=${c.completed} failed=${c.failed} total=${c.total}` : 'completed=- failed=- total=-',
    progressOf(b),
    b.endpoint ?? '-',
    time(b.created_at),
  ].join('  ');
}

/** The detailed view for `show` and `cancel`. */
export function formatBatch(b: BatchView): string {
  const c = b.request_counts;
  const rows: Array<[string, string]> = [
    ['id', b.id],
    ['status', b.status],
    ['endpoint', b.endpoint ?? '-'],
    ['requests', c ? `completed ${c.completed}, failed ${c.failed}, total ${c.total}` : '-'],
    ['progress', progressOf(b)],
    ['input file', b.input_file_id ?? '-'],
    ['output file', b.output_file_id ?? '-'],
    ['error file', b.error_file_id ?? '-'],
    ['created', time(b.created_at)],
  ];
  const stamps: Array<[string, number | null | undefined]> = [
    ['in progress', b.in_progress_at],
    ['finalizing', b.finalizing_at],
    ['completed', b.completed_at],
    ['failed', b.failed_at],
    ['cancelling', b.cancelling_at],
    ['cancelled', b.cancelled_at],
    ['expired', b.expired_at],
    ['expires', b.expires_at],
  ];
  for (const [name, at] of stamps) if (at) rows.push([name, time(at)]);
  if (b.metadata && Object.keys(b.metadata).length > 0)
    rows.push([
      'metadata',
      Object.entries(b.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
    ]);
  const errors = b.errors?.data ?? [];
  for (const e of errors.slice(0, 10))
    rows.push(['error', `${e.line != null ? `line ${e.line}: ` : ''}${e.code ?? 'error'}: ${e.message ?? ''}`.trim()]);
  if (errors.length > 10) rows.push(['error', `… ${errors.length - 10} more`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** The gateway's error body as one line: `401 invalid_api_key: …`. */
export function errorLine(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; code?: string | null } };
    if (parsed.error?.message)
      return `${status}${parsed.error.code ? ` ${parsed.error.code}` : ''}: ${parsed.error.message}`.replace(/\s+/g, ' ');
  } catch {
    // not JSON
  }
  return `${status}: ${body.trim().slice(0, 200) || 'no body'}`.replace(/\s+/g, ' ');
}

async function call<T>(gateway: Gateway, method: 'GET' | 'POST', path: string): Promise<T> {
  const url = `${gateway.url.replace(/\/+$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { authorization: `Bearer ${gateway.key}` }, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach the gateway at ${gateway.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`gateway answered ${errorLine(res.status, text)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`gateway answered ${res.status} with a body that is not JSON`);
  }
}

const connection = {
  gateway: { type: 'string', value: 'URL', help: 'the gateway (default $MAAS_GATEWAY_URL, else http://127.0.0.1:8080)' },
  key: { type: 'string', value: 'KEY', help: 'API key (default $MAAS_API_KEY)' },
} as const;

interface Gateway {
  readonly url: string;
  readonly key: string;
}

function gatewayOf(values: { gateway?: string; key?: string }, command: string): Gateway {
  const key = values.key ?? process.env.MAAS_API_KEY;
  if (!key) throw new UsageError('no API key: give --key KEY or set MAAS_API_KEY', command);
  return { url: values.gateway ?? process.env.MAAS_GATEWAY_URL ?? 'http://127.0.0.1:8080', key };
}

const out = (line: string) => process.stdout.write(`${line}\n`);

const list = defineArgs({
  command: 'maas batches list',
  description: 'Batches of the calling API key, newest first.',
  options: {
    limit: { type: 'integer', min: 1, default: 100, help: 'at most this many batches' },
    json: { type: 'boolean', help: 'print the batch objects as JSON' },
    ...connection,
  },
});

const show = defineArgs({
  command: 'maas batches show',
  description: 'One batch in detail: status, request counts, progress, files, timestamps, errors.',
  positionals: [{ name: 'ID', help: 'the batch id (batch_…)' }],
  options: { json: { type: 'boolean', help: 'print the batch object as JSON' }, ...connection },
});

const cancel = defineArgs({
  command: 'maas batches cancel',
  description: 'Asks the gateway to cancel a batch; requests already running finish, the rest are dropped.',
  positionals: [{ name: 'ID', help: 'the batch id (batch_…)' }],
  options: { ...connection },
});

export const command: Command = defineCommandGroup({
  command: 'maas batches',
  summary: 'list, show and cancel batches (OpenAI batch API) of an API key',
  description: "Batches of the calling API key, through the gateway's OpenAI-compatible /v1/batches.",
  actions: {
    list: defineCommand('one batch per line: id, status, completed/failed/total, progress, endpoint, created', list, async ({ values }) => {
      const gateway = gatewayOf(values, list.command);
      const all: BatchView[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await call<{ data: BatchView[]; has_more?: boolean }>(
          gateway,
          'GET',
          `/v1/batches?limit=${Math.min(100, values.limit - all.length)}${after ? `&after=${encodeURIComponent(after)}` : ''}`,
        );
        all.push(...page.data);
        if (!page.has_more || page.data.length === 0 || all.length >= values.limit) break;
        after = page.data[page.data.length - 1].id;
      }
      if (values.json) out(JSON.stringify(all, null, 2));
      else if (all.length === 0) out('no batches');
      else for (const b of all) out(formatBatchLine(b));
      return 0;
    }),
    show: defineCommand(
      'one batch in detail: status, request counts, progress, files, timestamps, errors',
      show,
      async ({ values, positionals }) => {
        const batch = await call<BatchView>(gatewayOf(values, show.command), 'GET', `/v1/batches/${encodeURIComponent(positionals[0])}`);
        out(values.json ? JSON.stringify(batch, null, 2) : formatBatch(batch));
        return 0;
      },
    ),
    cancel: defineCommand(
      'asks the gateway to cancel; requests already running finish, the rest are dropped',
      cancel,
      async ({ values, positionals }) => {
        out(
          formatBatch(
            await call<BatchView>(gatewayOf(values, cancel.command), 'POST', `/v1/batches/${encodeURIComponent(positionals[0])}/cancel`),
          ),
        );
        return 0;
      },
    ),
  },
  epilogue: `options of every action:
  --gateway URL   the gateway (default $MAAS_GATEWAY_URL, else http://127.0.0.1:8080)
  --key KEY       API key (default $MAAS_API_KEY)`,
});
