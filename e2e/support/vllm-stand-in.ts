/**
 * `vllm serve MODEL [flags]` as this machine can run it (no GPU): the engine simulator behind vLLM's
 * command line and its API-key check. Like vLLM, the key comes from --api-key or VLLM_API_KEY; every
 * /v1 path then needs `Authorization: Bearer <key>` (401 `{"error": "Unauthorized"}` otherwise), while
 * /health and /metrics stay open. Flags vLLM has that the simulator cannot honour are accepted and
 * reported on stdout (never the key), so a test can check the command line it was given.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { findProfile, startSimServer } from '@maas/engine-sim';

async function main(argv: string[]): Promise<number> {
  const [sub, model, ...rest] = argv;
  if (sub !== 'serve' || !model) {
    process.stderr.write('usage: vllm serve MODEL [options]\n');
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8000' },
      'served-model-name': { type: 'string' },
      'api-key': { type: 'string' },
      'tensor-parallel-size': { type: 'string', default: '1' },
      'max-model-len': { type: 'string' },
      'gpu-memory-utilization': { type: 'string', default: '0.9' },
      'scheduling-policy': { type: 'string', default: 'fcfs' },
      'enable-prefix-caching': { type: 'boolean' },
    },
    strict: true,
  });
  const key = values['api-key'] ?? process.env.VLLM_API_KEY;
  const policy = values['scheduling-policy'];
  if (policy !== 'fcfs' && policy !== 'priority') throw new Error(`--scheduling-policy: invalid choice: '${policy}'`);
  const profile = findProfile('a100-qwen2.5-3b');
  const maxModelLen = values['max-model-len'] ? Number(values['max-model-len']) : profile.maxModelLen;
  const engine = await startSimServer({
    profile: { ...profile, maxModelLen },
    model: values['served-model-name'] ?? model,
    port: 0,
    schedulingPolicy: policy,
    startupSeconds: 1,
  });
  const upstream = new URL(engine.url);
  const server = http.createServer((req, res) => {
    if (key && (req.url ?? '').startsWith('/v1') && req.headers.authorization !== `Bearer ${key}`) {
      process.stdout.write(
        `${JSON.stringify({ event: 'vllm-unauthorized', path: req.url, keyGiven: req.headers.authorization !== undefined })}\n`,
      );
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'Unauthorized' }));
      return;
    }
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(Number(values.port), values.host, resolve));
  const { port } = server.address() as AddressInfo;
  const flags = Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'api-key'));
  process.stdout.write(`${JSON.stringify({ event: 'vllm-serving', model, port, flags, auth: key ? 'required' : 'none' })}\n`);
  return new Promise<number>((resolve) => {
    const stop = () => {
      server.close();
      void engine.close().then(() => resolve(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

void main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`vllm: error: ${err.message}\n`);
    process.exit(2);
  },
);
