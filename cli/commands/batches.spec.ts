import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { BatchView, command, errorLine, formatBatch, formatBatchLine, progressOf } from './batches';

const batch: BatchView = {
  id: 'batch_abc',
  status: 'in_progress',
  endpoint: '/v1/chat/completions',
  input_file_id: 'file-in',
  output_file_id: null,
  error_file_id: null,
  created_at: 1_700_000_000,
  in_progress_at: 1_700_000_001,
  expires_at: 1_700_086_400,
  request_counts: { total: 2000, completed: 1230, failed: 4 },
  metadata: { project: 'papers' },
};

describe('maas batches formatting', () => {
  it('shows progress as finished of total with a percentage', () => {
    expect(progressOf(batch)).toBe('1,234/2,000 (61.7 %)');
    expect(progressOf({ ...batch, request_counts: { total: 0, completed: 0, failed: 0 } })).toBe('-');
  });

  it('lists one line per batch with status, counts and progress', () => {
    expect(formatBatchLine(batch)).toBe(
      'batch_abc  in_progress  completed=1230 failed=4 total=2000  1,234/2,000 (61.7 %)  /v1/chat/completions  2023-11-14T22:13:20Z',
    );
  });

  it('shows a batch in detail, with validation errors by line', () => {
    const text = formatBatch({
      ...batch,
      status: 'failed',
      errors: { data: [{ line: 2, code: 'invalid_json_line', message: 'not JSON' }] },
    });
    expect(text).toContain('status       failed');
    expect(text).toContain('requests     completed 1230, failed 4, total 2000');
    expect(text).toContain('progress     1,234/2,000 (61.7 %)');
    expect(text).toContain('metadata     project=papers');
    expect(text).toContain('error        line 2: invalid_json_line: not JSON');
  });

  it('turns the gateway’s error body into one line', () => {
    expect(errorLine(404, JSON.stringify({ error: { message: 'No batch\nfound', code: 'not_found' } }))).toBe(
      '404 not_found: No batch found',
    );
    expect(errorLine(502, '<html>bad gateway</html>\n')).toBe('502: <html>bad gateway</html>');
  });
});

describe('maas batches over HTTP', () => {
  let server: http.Server;
  let url: string;
  const seen: string[] = [];
  let output = '';
  const write = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== 'Bearer sk-good') {
        res.statusCode = 401;
        return res.end(JSON.stringify({ error: { message: 'invalid API key', code: 'invalid_api_key' } }));
      }
      if (req.url?.startsWith('/v1/batches?')) return res.end(JSON.stringify({ object: 'list', data: [batch], has_more: false }));
      if (req.url === '/v1/batches/batch_abc/cancel' && req.method === 'POST')
        return res.end(JSON.stringify({ ...batch, status: 'cancelling', cancelling_at: 1_700_000_100 }));
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { message: 'No batch found with id "batch_nope".', code: 'not_found' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    output = '';
    process.stdout.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stdout.write;
  });
  afterEach(() => {
    process.stdout.write = write;
  });

  it('lists and cancels with the key from --key', async () => {
    expect(await command.run(['list', '--gateway', url, '--key', 'sk-good'])).toBe(0);
    expect(output).toContain('batch_abc  in_progress');
    output = '';
    expect(await command.run(['cancel', 'batch_abc', '--gateway', url, '--key', 'sk-good'])).toBe(0);
    expect(output).toContain('status       cancelling');
    expect(seen).toContain('POST /v1/batches/batch_abc/cancel Bearer sk-good');
  });

  it('fails with one line naming the gateway’s answer', async () => {
    await expect(command.run(['show', 'batch_nope', '--gateway', url, '--key', 'sk-good'])).rejects.toThrow(
      'gateway answered 404 not_found: No batch found with id "batch_nope".',
    );
    await expect(command.run(['list', '--gateway', url, '--key', 'sk-bad'])).rejects.toThrow(
      'gateway answered 401 invalid_api_key: invalid API key',
    );
    await expect(command.run(['list', '--gateway', 'http://127.0.0.1:1', '--key', 'k'])).rejects.toThrow(
      /^cannot reach the gateway at http:\/\/127\.0\.0\.1:1: /,
    );
  });
});
