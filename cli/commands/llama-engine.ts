import { defineArgs, UsageError } from '@maas/cli-args';
import { Logger } from '@maas/logging';
import { startLlamaEngine } from '@maas/llama-engine';
import { Command, defineCommand } from '../command';
import { logLevelOption, RUNTIME_KEY_HELP, runtimeKeyFromEnv } from '../options';

const spec = defineArgs({
  command: 'maas llama-engine',
  description: `Serves a GGUF model on the CPU with llama.cpp (node-llama-cpp's prebuilt binaries, offline) behind
an OpenAI-compatible API that a model worker attaches to (maas worker --attach URL).

  POST /v1/chat/completions, /v1/completions   stream (SSE) or not; max_tokens, temperature,
                                               top_p, seed, stop (+ top_k, min_p, ignore_eos)
  POST /v1/embeddings                          with --embedding; float or base64
  POST /tokenize, /detokenize                  vLLM's shapes
  GET  /v1/models, /health, /metrics           vllm:num_requests_running / _waiting, KV usage`,
  options: {
    model: { type: 'string', value: 'FILE.gguf', required: true, help: 'the GGUF file to serve' },
    'model-id': { type: 'string', value: 'NAME', help: 'served model name (default: the file name without .gguf)' },
    port: { type: 'integer', min: 0, max: 65535, default: 8030, help: 'port to listen on; 0 picks a free one' },
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', help: 'address to bind' },
    threads: { type: 'integer', min: 1, max: 256, default: 2, help: 'CPU threads per evaluation (default 2; see below)' },
    context: { type: 'integer', min: 16, default: 1024, help: 'tokens per sequence, prompt plus answer' },
    parallel: { type: 'integer', min: 1, max: 256, default: 2, help: 'sequences generating at once; more requests wait' },
    'max-waiting': { type: 'integer', min: 0, help: 'requests allowed to queue before answering 503 (default: unbounded)' },
    embedding: { type: 'boolean', help: 'also serve /v1/embeddings (an extra embedding context of --context tokens)' },
    'max-body-mb': { type: 'integer', min: 1, max: 4096, default: 16, help: 'largest request body' },
    'log-level': logLevelOption,
  },
  epilogue: `Threads: each evaluation synchronises its threads several times per token, so on a busy machine
more threads can be far slower. Measured on a shared 2-core machine with the tiny test model:
--threads 1 ~2400 tokens/s, --threads 2 ~130, llama.cpp's default (4 here) ~3. Try 1 for small models.
A test model without downloads: node scripts/run.js libs/llama-engine/src/testing/make-tiny-gguf.ts tiny.gguf

Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.

${RUNTIME_KEY_HELP}`,
});

export const command: Command = defineCommand(
  'serve a GGUF model with llama.cpp (chat, completions, embeddings) on the CPU',
  spec,
  async ({ values }) => {
    const modelId = values['model-id'];
    if (modelId !== undefined && modelId.trim() === '') throw new UsageError('--model-id: must not be empty', spec.command);
    const logger = new Logger('llama-engine', values['log-level']);
    const started = Date.now();
    const apiKey = runtimeKeyFromEnv();
    const server = await startLlamaEngine({
      modelPath: values.model,
      ...(modelId ? { modelId } : {}),
      port: values.port,
      host: values.host,
      threads: values.threads,
      contextSize: values.context,
      sequences: values.parallel,
      maxWaiting: values['max-waiting'],
      embedding: values.embedding,
      maxBodyBytes: values['max-body-mb'] * 1024 * 1024,
      logger,
      apiKey,
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
      // whether a key is demanded, never the key
      auth: apiKey ? 'required' : 'none',
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
);
