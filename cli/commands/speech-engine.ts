import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Logger } from '@maas/logging';
import { DEFAULT_CHUNK_SPEC, DEFAULT_SPEECH_MODEL, OpenAiTranscriptionUpstream, PocketsphinxRecognizer, startSpeechServer } from '@maas/speech-engine';
import { Command } from '../command';

const usage = `usage: maas speech-engine [options]

Runs the speech runtime: OpenAI's transcription API over pocketsphinx, or forwarded to an external
whisper server (--upstream), that a model worker attaches to (maas worker --attach URL).

  POST /v1/audio/transcriptions          multipart (file, model, language, response_format
                                         json|text|srt|verbose_json|vtt, timestamp_granularities[])
                                         or JSON with "file" base64 / data URL
  GET  /v1/audio/transcriptions/progress[/ID]   progress of long jobs (ID = the X-Request-Id sent)
  GET  /v1/models, /health, /metrics (vllm:num_requests_running / _waiting)

options:
  --model NAME            served model id (default ${DEFAULT_SPEECH_MODEL}; with --upstream, the
                          upstream's first model unless given)
  --port N                port to listen on; 0 picks a free one (default 8020)
  --host ADDR             address to bind (default 127.0.0.1)
  --concurrency N         recogniser processes (or upstream requests) at once (default: number of
                          cores, ${os.availableParallelism()} here)
  --max-waiting N         jobs allowed to queue before answering 503 (default: unbounded)
  --max-file-mb N         largest audio file accepted (default 100)
  --chunk-seconds N       target chunk length for long audio (default ${DEFAULT_CHUNK_SPEC.chunkSeconds})
  --overlap-seconds N     audio shared by neighbouring chunks cut without a pause (default ${DEFAULT_CHUNK_SPEC.overlapSeconds})
  --lead-in-seconds N     audio before each chunk the recogniser also hears to adapt, its words
                          dropped (default ${DEFAULT_CHUNK_SPEC.leadInSeconds})
  --hmm DIR, --lm FILE, --dict FILE
                          pocketsphinx acoustic model, language model, dictionary (default: en-us)
  --upstream URL          forward to this OpenAI-compatible transcription server instead
                          (faster-whisper-server, whisper.cpp server, vLLM)
  --upstream-model NAME   model name sent upstream (default: the served id)
  --upstream-key-env VAR  environment variable holding the upstream's API key
  --log-level LEVEL       debug, info, warn or error (default info)

Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.
`;

function number(text: string | undefined, flag: string, check: (n: number) => boolean, expected: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`--${flag}: expected ${expected}, got "${text}"`);
  return n;
}

const int = (min: number) => (n: number) => Number.isInteger(n) && n >= min;

export const command: Command = {
  summary: 'run the speech runtime (pocketsphinx or an upstream whisper server; /v1/audio/transcriptions)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        port: { type: 'string', default: '8020' },
        host: { type: 'string', default: '127.0.0.1' },
        concurrency: { type: 'string' },
        'max-waiting': { type: 'string' },
        'max-file-mb': { type: 'string', default: '100' },
        'chunk-seconds': { type: 'string' },
        'overlap-seconds': { type: 'string' },
        'lead-in-seconds': { type: 'string' },
        hmm: { type: 'string' },
        lm: { type: 'string' },
        dict: { type: 'string' },
        upstream: { type: 'string' },
        'upstream-model': { type: 'string' },
        'upstream-key-env': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
      },
      strict: true,
    });
    const level = values['log-level'] as string;
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level: expected debug, info, warn or error, got "${level}"`);
    const logger = new Logger('speech-engine', level as 'debug' | 'info' | 'warn' | 'error');
    const port = number(values.port, 'port', (n) => int(0)(n) && n <= 65535, 'a port number (0 for any free port)') as number;
    const chunkSeconds = number(values['chunk-seconds'], 'chunk-seconds', (n) => n >= 5, 'a number of seconds >= 5') ?? DEFAULT_CHUNK_SPEC.chunkSeconds;
    const overlapSeconds = number(values['overlap-seconds'], 'overlap-seconds', (n) => n >= 0 && n < chunkSeconds / 2, 'a number of seconds below half a chunk') ?? DEFAULT_CHUNK_SPEC.overlapSeconds;

    const leadInSeconds = number(values['lead-in-seconds'], 'lead-in-seconds', (n) => n >= 0 && n < chunkSeconds, 'a number of seconds below a chunk') ?? DEFAULT_CHUNK_SPEC.leadInSeconds;

    let upstream: OpenAiTranscriptionUpstream | undefined;
    let model = values.model;
    if (values.upstream) {
      const keyVar = values['upstream-key-env'];
      if (keyVar && !process.env[keyVar]) throw new Error(`--upstream-key-env: environment variable ${keyVar} is not set`);
      try {
        upstream = new OpenAiTranscriptionUpstream(values.upstream, { apiKey: keyVar ? process.env[keyVar] : undefined });
      } catch (err) {
        throw new Error(`--upstream: ${(err as Error).message}`);
      }
      if (!model) model = await upstreamModel(upstream);
    }
    const server = await startSpeechServer({
      model,
      concurrency: number(values.concurrency, 'concurrency', int(1), 'a positive integer') ?? os.availableParallelism(),
      maxWaiting: number(values['max-waiting'], 'max-waiting', int(0), 'a non-negative integer'),
      maxFileBytes: (number(values['max-file-mb'], 'max-file-mb', (n) => n > 0, 'a positive number') as number) * 1024 * 1024,
      chunks: { ...DEFAULT_CHUNK_SPEC, chunkSeconds, overlapSeconds, leadInSeconds, searchSeconds: Math.min(DEFAULT_CHUNK_SPEC.searchSeconds, chunkSeconds / 2) },
      host: values.host,
      port,
      logger,
      recognizer: new PocketsphinxRecognizer({ hmm: values.hmm, lm: values.lm, dict: values.dict }),
      upstream,
      upstreamModel: values['upstream-model'],
    });
    logger.info('ready', { event: 'ready', url: server.url, port: server.port, model: server.model, upstream: upstream?.url, concurrency: server.pool.concurrency, pid: process.pid });
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
  if (answer.status !== 200 || typeof id !== 'string') throw new Error(`--upstream: ${upstream.url}/v1/models lists no model (HTTP ${answer.status}); give --model`);
  return id;
}
