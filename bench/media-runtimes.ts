/**
 * Latency and throughput of the media runtimes against concurrency, on this machine's real engines
 * (the paper's lesson: know per runtime how they trade off before placing and scaling it).
 *   ocr     images/s and latency for engine slots × client concurrency, and OpenMP threads per process
 *   speech  real-time factor of a multi-minute recording against engine slots, with its word error rate
 * Usage: node scripts/run.js bench/media-runtimes.ts [--mode all|ocr|speech] [--help]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { Logger } from '@maas/logging';
import { characterErrorRate, wordErrorRate } from '@maas/media';
import { parseModelSpec, startOcrServer, TesseractRecognizer } from '@maas/ocr-engine';
import { DEFAULT_CHUNK_SPEC, startSpeechServer } from '@maas/speech-engine';
import { closedLoop } from './lib/load';
import { writeReport } from './lib/report';
import { summarize } from './lib/stats';
import { renderTable } from './lib/table';

const spec = defineArgs({
  command: 'node scripts/run.js bench/media-runtimes.ts',
  description: `Latency and throughput of the media runtimes against concurrency, on this machine's real engines:
OCR images/s and latency for engine slots × client concurrency and OpenMP threads per process;
speech real-time factor of a multi-minute recording against engine slots, with its word error rate.`,
  options: {
    mode: { type: 'string', choices: ['all', 'ocr', 'speech'], default: 'all', value: 'M', help: 'all | ocr | speech' },
    requests: { type: 'integer', min: 1, default: 12, help: 'ocr: images per configuration' },
    lines: { type: 'integer', min: 1, default: 12, help: 'ocr: text lines on the benchmark page' },
    rounds: { type: 'integer', min: 1, default: 3, help: 'speech: times the 20 sentences repeat in the recording (default 3, ~200 s)' },
  },
  epilogue: 'JSON goes to artifacts/bench/media-runtimes.json.',
});

const quiet = new Logger('bench', 'error', () => undefined);
const cores = availableParallelism();

const PAGE_LINES = [
  'The quick brown fox jumps over the lazy dog.',
  'धर्मक्षेत्रे कुरुक्षेत्रे समवेता युयुत्सवः।',
  'Researchers share computing resources across universities.',
  'मामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय॥',
];

const SENTENCES = [
  'hello world this is a test',
  'the weather is nice today',
  'please open the door',
  'we will meet at the library tomorrow morning',
  'the students are reading books in the classroom',
  'i would like a cup of coffee',
  'the train leaves the station at nine',
  'she bought a new car last week',
  'can you help me with my homework',
  'the meeting starts in ten minutes',
  'my brother lives in a small town',
  'the children are playing in the park',
  'it is raining outside so take an umbrella',
  'we need more time to finish the project',
  'the computer is very fast',
  'he walked to the store to buy some bread',
  'the sun rises in the east',
  'please send me the report by friday',
  'the dog is sleeping under the table',
  'they are going to the beach this weekend',
];

async function postJson(url: string, body: unknown): Promise<{ status: number; json: any; seconds: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  return { status: res.status, json, seconds: (performance.now() - started) / 1000 };
}

async function benchOcr(dir: string, requests: number, lines: number) {
  const text = Array.from({ length: lines }, (_, i) => PAGE_LINES[i % PAGE_LINES.length]).join('\n');
  const file = path.join(dir, 'page.png');
  execFileSync('convert', ['-font', 'Noto Sans', '-pointsize', '28', `pango:${text}`, file]);
  const image = `data:image/png;base64,${readFileSync(file).toString('base64')}`;
  const rows: (string | number)[][] = [];
  const results = [];
  const configs = [
    { slots: 1, threads: 1 },
    { slots: 1, threads: cores },
    { slots: cores, threads: 1 },
  ];
  for (const { slots, threads } of configs) {
    const server = await startOcrServer({
      models: [parseModelSpec('tesseract/eng+Devanagari')],
      concurrency: slots,
      port: 0,
      logger: quiet,
      recognizer: new TesseractRecognizer({ threads }),
    });
    try {
      await postJson(`${server.url}/v1/ocr`, { image }); // warm the page cache
      for (const clients of [1, 2, 4]) {
        const started = performance.now();
        const answers = await closedLoop(clients, Math.ceil(requests / clients), () => postJson(`${server.url}/v1/ocr`, { image }));
        const wall = (performance.now() - started) / 1000;
        const latency = summarize(answers.map((a) => a.seconds));
        const cer = Math.max(...answers.map((a) => characterErrorRate(text, a.json.text)));
        const row = {
          slots,
          threads,
          clients,
          requests: answers.length,
          imagesPerSecond: answers.length / wall,
          latencyMedian: latency.median,
          latencyP90: latency.p90,
          worstCer: cer,
        };
        results.push(row);
        rows.push([slots, threads, clients, row.imagesPerSecond, row.latencyMedian, row.latencyP90, cer]);
        process.stderr.write(`ocr: slots ${slots} threads ${threads} clients ${clients}: ${row.imagesPerSecond.toFixed(2)} images/s\n`);
      }
    } finally {
      await server.close();
    }
  }
  process.stdout.write(
    `\nOCR (tesseract, ${lines}-line page, ${cores} cores)\n${renderTable(['slots', 'omp threads', 'clients', 'images/s', 'p50 s', 'p90 s', 'worst CER'], rows)}\n`,
  );
  return results;
}

async function benchSpeech(dir: string, rounds: number) {
  const files = SENTENCES.map((s, i) => {
    const f = path.join(dir, `s${i}.wav`);
    execFileSync('espeak-ng', ['-v', 'en-us+klatt', '-s', '140', '-w', f, s]);
    return f;
  });
  const gap = path.join(dir, 'gap.wav');
  execFileSync('sox', ['-D', '-n', '-r', '22050', '-c', '1', '-b', '16', gap, 'trim', '0', '0.8']);
  const long = path.join(dir, 'long.wav');
  const all = Array.from({ length: rounds }, () => files).flat();
  execFileSync('sox', ['-D', ...all.flatMap((f) => [f, gap]), long]);
  const reference = Array.from({ length: rounds }, () => SENTENCES.join(' ')).join(' ');
  const audio = readFileSync(long).toString('base64');
  const rows: (string | number)[][] = [];
  const results = [];
  for (const slots of [1, cores]) {
    for (const leadInSeconds of [0, DEFAULT_CHUNK_SPEC.leadInSeconds]) {
      const server = await startSpeechServer({
        concurrency: slots,
        port: 0,
        logger: quiet,
        chunks: { ...DEFAULT_CHUNK_SPEC, leadInSeconds },
      });
      try {
        const answer = await postJson(`${server.url}/v1/audio/transcriptions`, { file: audio, response_format: 'verbose_json' });
        const row = {
          slots,
          leadInSeconds,
          audioSeconds: answer.json.duration,
          wallSeconds: answer.seconds,
          realTimeFactor: answer.seconds / answer.json.duration,
          wer: wordErrorRate(reference, answer.json.text),
        };
        results.push(row);
        rows.push([slots, leadInSeconds, row.audioSeconds, row.wallSeconds, row.realTimeFactor, row.wer]);
        process.stderr.write(
          `speech: slots ${slots} lead-in ${leadInSeconds}: RTF ${row.realTimeFactor.toFixed(3)}, WER ${row.wer.toFixed(3)}\n`,
        );
      } finally {
        await server.close();
      }
    }
  }
  // The recogniser on the whole file in one process, for comparison.
  const resampled = path.join(dir, 'long16k.wav');
  execFileSync('sox', ['-D', long, '-r', '16000', '-c', '1', '-b', '16', resampled]);
  const started = performance.now();
  const whole = execFileSync('pocketsphinx_continuous', ['-infile', resampled, '-logfn', '/dev/null', '-dither', 'yes'], {
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  const wholeSeconds = (performance.now() - started) / 1000;
  const duration = results[0]?.audioSeconds ?? 0;
  rows.push(['whole file, one process', '-', duration, wholeSeconds, wholeSeconds / duration, wordErrorRate(reference, whole)]);
  process.stdout.write(
    `\nSpeech (pocketsphinx, espeak-ng recording, ${cores} cores)\n${renderTable(['slots', 'lead-in s', 'audio s', 'wall s', 'RTF', 'WER'], rows)}\n`,
  );
  return { runtime: results, wholeFile: { wallSeconds: wholeSeconds, wer: wordErrorRate(reference, whole) } };
}

async function main() {
  const { values } = parseArgv(spec, process.argv.slice(2));
  const mode = values.mode;
  const dir = mkdtempSync(path.join(tmpdir(), 'maas-bench-media-'));
  try {
    const report: Record<string, unknown> = { cores, at: new Date().toISOString() };
    if (mode !== 'speech') report.ocr = await benchOcr(dir, values.requests, values.lines);
    if (mode !== 'ocr') report.speech = await benchSpeech(dir, values.rounds);
    process.stdout.write(`\nreport: ${writeReport('media-runtimes', report)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain('bench/media-runtimes', main);
