import * as os from 'node:os';
import { defineArgs, UsageError } from '@maas/cli-args';
import { Logger } from '@maas/logging';
import {
  DEFAULT_CHUNK_SPEC,
  DEFAULT_SPEECH_MODEL,
  OpenAiTranscriptionUpstream,
  PocketsphinxRecognizer,
  startSpeechServer,
} from '@maas/speech-engine';
import { Command, defineCommand } from '../command';
import { logLevelOption, RUNTIME_KEY_HELP, runtimeKeyFromEnv } from '../options';

const spec = defineArgs({
  command: 'maas speech-engine',
  description: `Runs the speech runtime: OpenAI's transcription API over pocketsphinx, or forwarded to an external
whisper server (--upstream), that a model worker attaches to (maas worker --attach URL).

  POST /v1/audio/transcriptions          multipart (file, model, language, response_format
                                         json|text|srt|verbose_json|vtt, timestamp_granularities[])
                                         or JSON with "file" base64 / data URL
  GET  /v1/audio/transcriptions/progress[/ID]   progress of long jobs (ID = the X-Request-Id sent)
  GET  /v1/models, /health, /metrics (vllm:num_requests_running / _waiting)`,
  options: {
    model: {
      type: 'string',
      value: 'NAME',
      help: `served model id (default ${DEFAULT_SPEECH_MODEL}; with --upstream, the upstream's first model unless given)`,
    },
    port: { type: 'integer', min: 0, max: 65535, default: 8020, help: 'port to listen on; 0 picks a free one' },
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', help: 'address to bind' },
    concurrency: {
      type: 'integer',
      min: 1,
      help: `recogniser processes (or upstream requests) at once (default: number of cores, ${os.availableParallelism()} here)`,
    },
    'max-waiting': { type: 'integer', min: 0, help: 'jobs allowed to queue before answering 503 (default: unbounded)' },
    'max-file-mb': { type: 'number', above: 0, default: 100, help: 'largest audio file accepted' },
    'chunk-seconds': { type: 'number', min: 5, default: DEFAULT_CHUNK_SPEC.chunkSeconds, help: 'target chunk length for long audio' },
    'overlap-seconds': {
      type: 'number',
      min: 0,
      help: `audio shared by neighbouring chunks cut without a pause, below half a chunk (default ${DEFAULT_CHUNK_SPEC.overlapSeconds})`,
    },
    'lead-in-seconds': {
      type: 'number',
      min: 0,
      help: `audio before each chunk the recogniser also hears to adapt, its words dropped; below a chunk (default ${DEFAULT_CHUNK_SPEC.leadInSeconds})`,
    },
    hmm: { type: 'string', value: 'DIR', help: 'pocketsphinx acoustic model (default: en-us)' },
    lm: { type: 'string', value: 'FILE', help: 'pocketsphinx language model (default: en-us)' },
    dict: { type: 'string', value: 'FILE', help: 'pocketsphinx dictionary (default: en-us)' },
    upstream: {
      type: 'string',
      value: 'URL',
      help: 'forward to this OpenAI-compatible transcription server instead (faster-whisper-server, whisper.cpp server, vLLM)',
    },
    'upstream-model': { type: 'string', value: 'NAME', help: 'model name sent upstream (default: the served id)' },
    'upstream-key-env': { type: 'string', value: 'VAR', help: "environment variable holding the upstream's API key" },
    'log-level': logLevelOption,
  },
  epilogue: `Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.

${RUNTIME_KEY_HELP}`,
});

export const command: Command = defineCommand(
  'run the speech runtime (pocketsphinx or an upstream whisper server; /v1/audio/transcriptions)',
  spec,
  async ({ values }) => {
    const invalid = (message: string) => new UsageError(message, spec.command);
    const chunkSeconds = values['chunk-seconds'];
    const overlapSeconds = values['overlap-seconds'] ?? DEFAULT_CHUNK_SPEC.overlapSeconds;
    const leadInSeconds = values['lead-in-seconds'] ?? DEFAULT_CHUNK_SPEC.leadInSeconds;
    if (values['overlap-seconds'] !== undefined && overlapSeconds >= chunkSeconds / 2)
      throw invalid(`--overlap-seconds: expected a number of seconds below half a chunk (${chunkSeconds / 2}), got "${overlapSeconds}"`);
    if (values['lead-in-seconds'] !== undefined && leadInSeconds >= chunkSeconds)
      throw invalid(`--lead-in-seconds: expected a number of seconds below a chunk (${chunkSeconds}), got "${leadInSeconds}"`);
    const logger = new Logger('speech-engine', values['log-level']);
    const apiKey = runtimeKeyFromEnv();

    let upstream: OpenAiTranscriptionUpstream | undefined;
    let model = values.model;
    if (values.upstream) {
      const keyVar = values['upstream-key-env'];
      if (keyVar && !process.env[keyVar]) throw invalid(`--upstream-key-env: environment variable ${keyVar} is not set`);
      try {
        upstream = new OpenAiTranscriptionUpstream(values.upstream, { apiKey: keyVar ? process.env[keyVar] : undefined });
      } catch (err) {
        throw invalid(`--upstream: ${(err as Error).message}`);
      }
      if (!model) model = await upstreamModel(upstream);
    }
    const server = await startSpeechServer({
      model,
      concurrency: values.concurrency ?? os.availableParallelism(),
      maxWaiting: values['max-waiting'],
      maxFileBytes: values['max-file-mb'] * 1024 * 1024,
      chunks: {
        ...DEFAULT_CHUNK_SPEC,
        chunkSeconds,
        overlapSeconds,
        leadInSeconds,
        searchSeconds: Math.min(DEFAULT_CHUNK_SPEC.searchSeconds, chunkSeconds / 2),
      },
      host: values.host,
      port: values.port,
      logger,
      recognizer: new PocketsphinxRecognizer({ hmm: values.hmm, lm: values.lm, dict: values.dict }),
      upstream,
      upstreamModel: values['upstream-model'],
      apiKey,
    });
    logger.info('ready', {
      event: 'ready',
      url: server.url,
      port: server.port,
      model: server.model,
      upstream: upstream?.url,
      concurrency: server.pool.concurrency,
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

/** The upstream's first model, so `--upstream URL` alone serves what the upstream serves. */
async function upstreamModel(upstream: OpenAiTranscriptionUpstream): Promise<string> {
  const answer = await upstream.get('/v1/models', 5000).catch((err: Error) => {
    throw new Error(`--upstream: cannot list ${upstream.url}/v1/models (${err.message}); give --model`);
  });
  const id = (() => {
    try {
      return (JSON.parse(answer.body.toString('utf8')) as { data?: { id?: unknown }[] }).data?.[0]?.id;
    } catch {
      return undefined;
    }
  })();
  if (answer.status !== 200 || typeof id !== 'string')
    throw new Error(`--upstream: ${upstream.url}/v1/models lists no model (HTTP ${answer.status}); give --model`);
  return id;
}
