import { parseArgs } from 'node:util';
import { Logger } from '@maas/logging';
import { startLlamaEngine } from '@maas/llama-engine';
import { Command } from '../command';

const usage = `usage: maas llama-engine --model FILE.gguf [options]

Serves a GGUF model on the CPU with llama.cpp (node-llama-cpp's prebuilt binaries, offline) behind
an OpenAI-compatible API that a model worker attaches to (maas worker --attach URL).

  POST /v1/chat/completions, /v1/completions   stream (SSE) or not; max_tokens, temperature,
                                               top_p, seed, stop (+ top_k, min_p, ignore_eos)
  POST /v1/embeddings                          with --embedding; float or base64
  POST /tokenize, /detokenize                  vLLM's shapes
  GET  /v1/models, /health, /metrics           vllm:num_requests_running / _waiting, KV usage

options:
  --model FILE            the GGUF file to serve (required)
  --model-id NAME         served model name (default: the file name without .gguf)
  --port N                port to listen on; 0 picks a free one (default 8030)
  --host ADDR             address to bind (default 127.0.0.1)
  --threads N             CPU threads per evaluation (default 2; see below)
  --context N             tokens per sequence, prompt plus answer (default 1024)
  --parallel N            sequences generating at once; more requests wait (default 2)
  --max-waiting N         requests allowed to queue before answering 503 (default: unbounded)
  --embedding             also serve /v1/embeddings (an extra embedding context of --context tokens)
  --max-body-mb N         largest request body (default 16)
  --log-level LEVEL       debug, info, warn or error (default info)

Threads: each evaluation synchronises its threads several times per token, so on a busy machine
more threads can be far slower. Measured on a shared 2-core machine with the tiny test model:
--threads 1 ~2400 tokens/s, --threads 2 ~130, llama.cpp's default (4 here) ~3. Try 1 for small models.
A test model without downloads: node scripts/run.js libs/llama-engine/src/testing/make-tiny-gguf.ts tiny.gguf

Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.
`;

function integer(text: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag}: expected an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

export const command: Command = {
  summary: 'serve a GGUF model with llama.cpp (chat, completions, embeddings) on the CPU',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'model-id': { type: 'string' },
        port: { type: 'string', default: '8030' },
        host: { type: 'string', default: '127.0.0.1' },
        threads: { type: 'string', default: '2' },
        context: { type: 'string', default: '1024' },
        parallel: { type: 'string', default: '2' },
        'max-waiting': { type: 'string' },
        embedding: { type: 'boolean', default: false },
        'max-body-mb': { type: 'string', default: '16' },
        'log-level': { type: 'string', default: 'info' },
      },
      strict: true,
    });
    const level = values['log-level'] as string;
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level: expected debug, info, warn or error, got "${level}"`);
    if (!values.model) throw new Error('--model: the GGUF file to serve is required');
    const modelId = values['model-id'];
    if (modelId !== undefined && modelId.trim() === '') throw new Error('--model-id: must not be empty');
    const logger = new Logger('llama-engine', level as 'debug' | 'info' | 'warn' | 'error');
    const started = Date.now();
    const server = await startLlamaEngine({
      modelPath: values.model,
      ...(modelId ? { modelId } : {}),
      port: integer(values.port, 'port', 0, 65535) as number,
      host: values.host,
      threads: integer(values.threads, 'threads', 1, 256) as number,
      contextSize: integer(values.context, 'context', 16) as number,
      sequences: integer(values.parallel, 'parallel', 1, 256) as number,
      maxWaiting: integer(values['max-waiting'], 'max-waiting', 0),
      embedding: values.embedding === true,
      maxBodyBytes: (integer(values['max-body-mb'], 'max-body-mb', 1, 4096) as number) * 1024 * 1024,
      logger,
    });
    const { facts } = server.runtime;
    logger.info('ready', {
      event: 'ready',
      url: server.url,
      port: server.port,
      model: server.modelId,
      capabilities: server.embeddings ? ['chat', 'completion', 'embedding'] : ['chat', 'completion'],
      context: server.runtime.contextSize,
      parallel: server.runtime.slots.length,
      chat_format: facts.chatFormat,
      runtime: facts.runtime,
      load_ms: Date.now() - started,
      pid: process.pid,
    });
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        logger.info('stopping', { event: 'stopping', signal });
        void server.close().then(() => {
          logger.info('stopped', { event: 'stopped' });
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
