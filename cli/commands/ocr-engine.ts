import * as os from 'node:os';
import { defineArgs } from '@maas/cli-args';
import { Logger } from '@maas/logging';
import { DEFAULT_OCR_MODELS, parseModelSpec, startOcrServer, TesseractRecognizer } from '@maas/ocr-engine';
import { Command, defineCommand } from '../command';
import { logLevelOption, RUNTIME_KEY_HELP, runtimeKeyFromEnv } from '../options';

const spec = defineArgs({
  command: 'maas ocr-engine',
  description: `Runs the OCR runtime: Tesseract behind an HTTP API that a model worker attaches to
(maas worker --attach URL), like a vLLM server.

  POST /v1/ocr               { model, image: base64 | data URL, languages?, layout?: text|lines|words }
                             (or multipart with an "image" file part)
  POST /v1/chat/completions  OpenAI vision messages; the text read from the images is the answer
  GET  /v1/models, /health, /metrics (vllm:num_requests_running / _waiting)`,
  options: {
    model: {
      type: 'custom',
      parse: parseModelSpec,
      value: 'SPEC',
      multiple: true,
      help: `a served model, repeatable: "tesseract/eng+Devanagari" (languages from the id) or "ID=LANG+LANG" (default: ${DEFAULT_OCR_MODELS.join(', ')})`,
    },
    port: { type: 'integer', min: 0, max: 65535, default: 8010, help: 'port to listen on; 0 picks a free one' },
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', help: 'address to bind' },
    concurrency: {
      type: 'integer',
      min: 1,
      help: `tesseract processes at once (default: number of cores, ${os.availableParallelism()} here)`,
    },
    'max-waiting': { type: 'integer', min: 0, help: 'requests allowed to queue before answering 503 (default: unbounded)' },
    threads: { type: 'integer', min: 1, default: 1, help: 'OpenMP threads per tesseract process' },
    psm: { type: 'integer', min: 0, max: 13, default: 6, help: 'Tesseract page segmentation mode (default 6: one block of text)' },
    'max-image-mb': { type: 'integer', min: 1, default: 20, help: 'largest image accepted, decoded' },
    'tessdata-dir': { type: 'string', value: 'DIR', help: "Tesseract language data directory (default: Tesseract's own)" },
    'log-level': logLevelOption,
  },
  epilogue: `Prints one JSON line when ready (with the URL); SIGTERM or SIGINT stop it after work in flight.

${RUNTIME_KEY_HELP}`,
});

export const command: Command = defineCommand(
  'run the OCR runtime (Tesseract; /v1/ocr and vision chat completions)',
  spec,
  async ({ values }) => {
    const logger = new Logger('ocr-engine', values['log-level']);
    const models = values.model.length > 0 ? values.model : DEFAULT_OCR_MODELS.map(parseModelSpec);
    const apiKey = runtimeKeyFromEnv();
    const server = await startOcrServer({
      models,
      concurrency: values.concurrency ?? os.availableParallelism(),
      maxWaiting: values['max-waiting'],
      psm: values.psm,
      maxImageBytes: values['max-image-mb'] * 1024 * 1024,
      host: values.host,
      port: values.port,
      logger,
      recognizer: new TesseractRecognizer({ threads: values.threads, tessdataDir: values['tessdata-dir'] }),
      apiKey,
    });
    logger.info('ready', {
      event: 'ready',
      url: server.url,
      port: server.port,
      models: server.models.map((m) => m.id),
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
