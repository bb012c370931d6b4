import { randomUUID } from 'node:crypto';
import { DecodedMedia, invalidParam, JobPool, modelNotFound, UnreadableMedia } from '@maas/media';
import { OcrModel } from './ocr-models';
import { ChatOcrRequest, OcrLayoutLevel, OcrRequest } from './ocr-request';
import { OcrLine, OcrPage, OcrWord, parseTesseractTsv } from './tesseract-tsv';
import { OcrRecognizer } from './tesseract.repository';

export interface OcrResult {
  readonly id: string;
  readonly object: 'ocr.result';
  readonly created: number;
  readonly model: string;
  readonly text: string;
  readonly languages: string[];
  readonly pages?: OcrPage[];
  readonly lines?: OcrLine[];
  readonly words?: OcrWord[];
  readonly usage: { readonly images: number; readonly characters: number };
}

export interface ChatOcrAnswer {
  readonly model: string;
  readonly text: string;
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number; readonly total_tokens: number };
}

export interface OcrServiceConfig {
  readonly models: readonly OcrModel[];
  /** Languages the engine has installed; requests for others are refused before any work. */
  readonly installed: readonly string[];
  readonly psm: number;
}

export interface JobContext {
  readonly requestId: string;
  readonly signal?: AbortSignal;
}

/** OpenAI's documented base cost of one image (detail "low"), so chat usage stays comparable. */
export const IMAGE_PROMPT_TOKENS = 85;

/** The platform's token estimate without a tokenizer (the same as the engine simulator's). */
export const estimateTokens = (text: string): number => Math.ceil(Buffer.byteLength(text, 'utf8') / 4);

/** Tesseract's text output tidied: pages (form feeds) become blank lines, trailing blanks go. */
export function tidyText(raw: string): string {
  return raw
    .split('\f')
    .map((page) =>
      page
        .split('\n')
        .map((line) => line.trimEnd())
        .join('\n')
        .trim(),
    )
    .filter((page) => page !== '')
    .join('\n\n');
}

/** Reads text from images on a bounded pool of engine processes. */
export class OcrService {
  private readonly installed: Set<string>;

  constructor(
    private readonly recognizer: OcrRecognizer,
    private readonly pool: JobPool,
    private readonly config: OcrServiceConfig,
  ) {
    this.installed = new Set(config.installed);
    for (const model of config.models) {
      const missing = model.languages.filter((l) => !this.installed.has(l));
      if (missing.length > 0)
        throw new Error(
          `model ${model.id} needs language data not installed here: ${missing.join(', ')} (installed: ${config.installed.join(', ')})`,
        );
    }
  }

  get models(): readonly OcrModel[] {
    return this.config.models;
  }

  async recognize(request: OcrRequest, job: JobContext): Promise<OcrResult> {
    const model = this.model(request.model);
    const languages = request.languages ?? [...model.languages];
    const unknown = languages.filter((l) => !this.installed.has(l));
    if (unknown.length > 0) {
      throw invalidParam(
        'languages',
        `language ${unknown.map((l) => `"${l}"`).join(', ')} is not installed here; installed: ${[...this.installed].join(', ')}`,
        'unsupported_language',
      );
    }
    const layout = await this.read(request.image, languages, request.layout, job, 'image');
    return {
      id: `ocr-${randomUUID().replace(/-/g, '')}`,
      object: 'ocr.result',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      text: layout.text,
      languages,
      ...(request.layout !== 'text' ? { pages: layout.pages, lines: layout.lines } : {}),
      ...(request.layout === 'words' ? { words: layout.words } : {}),
      usage: { images: 1, characters: [...layout.text.replace(/\s/g, '')].length },
    };
  }

  /** Every image of the message, read in parallel on the pool, joined by blank lines. */
  async chat(request: ChatOcrRequest, job: JobContext): Promise<ChatOcrAnswer> {
    const model = this.model(request.model);
    const pages = await Promise.all(request.images.map((image) => this.read(image, [...model.languages], 'text', job, 'messages')));
    const text = pages.map((p) => p.text).join('\n\n');
    const promptTokens = IMAGE_PROMPT_TOKENS * request.images.length + estimateTokens(request.promptText);
    const completionTokens = estimateTokens(text);
    return {
      model: model.id,
      text,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }

  private model(name: string | undefined): OcrModel {
    if (name === undefined) return this.config.models[0];
    const model = this.config.models.find((m) => m.id === name);
    if (!model)
      throw modelNotFound(
        name,
        this.config.models.map((m) => m.id),
      );
    return model;
  }

  private async read(image: DecodedMedia, languages: string[], level: OcrLayoutLevel, job: JobContext, param: string) {
    const recognition = await this.pool
      .run(
        (signal) =>
          this.recognizer.recognize(image.bytes, image.type, { languages, psm: this.config.psm, layout: level !== 'text', signal }),
        { signal: job.signal, owner: job.requestId },
      )
      .catch((err: unknown) => {
        throw err instanceof UnreadableMedia ? invalidParam(param, `\`${param}\`: ${err.message}`, 'invalid_image') : err;
      });
    const layout = recognition.tsv !== undefined ? parseTesseractTsv(recognition.tsv) : { pages: [], lines: [], words: [] };
    return { text: tidyText(recognition.text), ...layout };
  }
}
