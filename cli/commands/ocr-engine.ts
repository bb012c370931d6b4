import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Logger } from '@maas/logging';
import { DEFAULT_OCR_MODELS, parseModelSpec, startOcrServer, TesseractRecognizer } from '@maas/ocr-engine';
import { Command } from '../command';

const usage = `usage: maas ocr-engine [options]

Runs the OCR runtime: Tesseract behind an HTTP API that a model worker attaches to
(maas worker --attach URL), like a vLLM server.

  POST /v1/ocr               { model, image: base64 | data URL, languages?, layout?: text|lines|words }
                             (or multipart with an "image" file part)
  POST /v1/chat/completions  OpenAI vision messages; the text read from the images is the answer
  GET  /v1/models, /health, /metrics (vllm:num_requests_running / _waiting)

options:
  --model SPEC            a served model, repeatable: "tesseract/eng+Devanagari" (languages from the
                          id) or "ID=LANG+LANG" (default: ${DEFAULT_OCR_MODELS.join(', ')})
  --port N                port to listen on; 0 picks a free one (default 8010)
  --host ADDR             address to bind (default 127.0.0.1)
  --concurrency N         tesseract processes at once (default: number of cores, ${os.availableParallelism()} here)
  --max-waiting N         requests allowed to queue before answering 503 (default: unbounded)
  --threads N             OpenMP threads per tesseract process (default 1)
  --psm N                 Tesseract page segmentation mode (default 6: one block of text)
  --max-image-mb N        largest image accepted, decoded (default 20)
  --tessdata-dir DIR      Tesseract language data directory (default: Tesseract's own)
  --log-level LEVEL       debug, info, warn or error (default info)

Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.
`;

function positiveInt(text: string | undefined, flag: string, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`--${flag}: expected an integer >= ${min}, got "${text}"`);
  return n;
}

export const command: Command = {
  summary: 'run the OCR runtime (Tesseract; /v1/ocr and vision chat completions)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string', multiple: true },
        port: { type: 'string', default: '8010' },
        host: { type: 'string', default: '127.0.0.1' },
        concurrency: { type: 'string' },
        'max-waiting': { type: 'string' },
        threads: { type: 'string', default: '1' },
        psm: { type: 'string', default: '6' },
        'max-image-mb': { type: 'string', default: '20' },
        'tessdata-dir': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
      },
      strict: true,
    });
    const level = values['log-level'] as string;
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level: expected debug, info, warn or error, got "${level}"`);
    const logger = new Logger('ocr-engine', level as 'debug' | 'info' | 'warn' | 'error');
    const models = (values.model && values.model.length > 0 ? values.model : [...DEFAULT_OCR_MODELS]).map((spec) => {
      try {
        return parseModelSpec(spec);
      } catch (err) {
        throw new Error(`--model: ${(err as Error).message}`);
      }
    });
    const port = positiveInt(values.port, 'port', 0) as number;
    if (port > 65535) throw new Error(`--port: expected a port number (0 for any free port), got "${values.port}"`);
    const psm = positiveInt(values.psm, 'psm', 0) as number;
    if (psm > 13) throw new Error(`--psm: expected a Tesseract page segmentation mode 0..13, got "${values.psm}"`);
    const server = await startOcrServer({
      models,
      concurrency: positiveInt(values.concurrency, 'concurrency') ?? os.availableParallelism(),
      maxWaiting: positiveInt(values['max-waiting'], 'max-waiting', 0),
      psm,
      maxImageBytes: (positiveInt(values['max-image-mb'], 'max-image-mb') as number) * 1024 * 1024,
      host: values.host,
      port,
      logger,
      recognizer: new TesseractRecognizer({ threads: positiveInt(values.threads, 'threads'), tessdataDir: values['tessdata-dir'] }),
    });
    logger.info('ready', { event: 'ready', url: server.url, port: server.port, models: server.models.map((m) => m.id), concurrency: server.pool.concurrency, pid: process.pid });
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
