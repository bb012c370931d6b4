import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MediaType, runTool, ToolError, UnreadableMedia } from '@maas/media';

export interface RecognizeOptions {
  readonly languages: readonly string[];
  /** Tesseract page segmentation mode (6: one uniform block of text). */
  readonly psm: number;
  /** Also return the TSV layout (boxes and confidences). */
  readonly layout: boolean;
  readonly signal?: AbortSignal;
}

export interface Recognition {
  readonly text: string;
  readonly tsv?: string;
}

/** The OCR engine as the service sees it: image bytes in, text (and layout) out. */
export interface OcrRecognizer {
  recognize(image: Buffer, type: MediaType, options: RecognizeOptions): Promise<Recognition>;
  /** Languages (traineddata names) the engine can read. */
  languages(): Promise<string[]>;
}

export interface TesseractOptions {
  readonly binary?: string;
  /** OpenMP threads per tesseract process; 1 when the pool already runs one process per core. */
  readonly threads?: number;
  readonly tessdataDir?: string;
}

/** Tesseract 5 as a child process per image, working in a private temporary directory. */
export class TesseractRecognizer implements OcrRecognizer {
  private readonly binary: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: TesseractOptions = {}) {
    this.binary = options.binary ?? 'tesseract';
    this.env = { ...process.env, OMP_THREAD_LIMIT: String(options.threads ?? 1) };
  }

  async recognize(image: Buffer, type: MediaType, options: RecognizeOptions): Promise<Recognition> {
    const dir = await mkdtemp(path.join(tmpdir(), 'maas-ocr-'));
    try {
      const input = path.join(dir, `page.${type.extension}`);
      await writeFile(input, image);
      const outputs = options.layout ? ['txt', 'tsv'] : ['txt'];
      await runTool(
        this.binary,
        [input, path.join(dir, 'out'), ...this.tessdata(), '-l', options.languages.join('+'), '--psm', String(options.psm), ...outputs],
        {
          signal: options.signal,
          env: this.env,
        },
      ).catch((err: unknown) => {
        // Leptonica's words for bytes it cannot decode behind a valid magic number.
        if (err instanceof ToolError && /pix(Read|_read)|pix not read|Unsupported image|image file not read/i.test(err.message)) {
          throw new UnreadableMedia(`the image could not be decoded (${err.message.replace(/^.*?: /, '')})`);
        }
        throw err;
      });
      const text = await readFile(path.join(dir, 'out.txt'), 'utf8');
      const tsv = options.layout ? await readFile(path.join(dir, 'out.tsv'), 'utf8') : undefined;
      return { text, ...(tsv !== undefined ? { tsv } : {}) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async languages(): Promise<string[]> {
    const { stdout, stderr } = await runTool(this.binary, [...this.tessdata(), '--list-langs'], { env: this.env });
    // Tesseract 5 prints the list on stdout, 4 on stderr; the first line is a header.
    const lines = (stdout.length > 0 ? stdout.toString('utf8') : stderr).split('\n').map((l) => l.trim());
    return lines.filter((l) => l !== '' && !l.startsWith('List of available'));
  }

  private tessdata(): string[] {
    return this.options.tessdataDir ? ['--tessdata-dir', this.options.tessdataDir] : [];
  }
}
