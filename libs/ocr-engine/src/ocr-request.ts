import { ApiError, checkMedia, decodeMediaField, DecodedMedia, invalidParam, MediaRule, RequestBody } from '@maas/media';
import { tesseractLanguage } from './ocr-models';

export type OcrLayoutLevel = 'text' | 'lines' | 'words';
const LAYOUTS: readonly OcrLayoutLevel[] = ['text', 'lines', 'words'];

/** `POST /v1/ocr`, validated. */
export interface OcrRequest {
  readonly model?: string;
  readonly image: DecodedMedia;
  /** Tesseract names; undefined: the model's own. */
  readonly languages?: string[];
  readonly layout: OcrLayoutLevel;
}

/** A chat completion whose user message carries images: the OCR text is the answer. */
export interface ChatOcrRequest {
  readonly model?: string;
  readonly images: DecodedMedia[];
  /** The text parts of the conversation, counted as prompt tokens. */
  readonly promptText: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

function optionalString(value: unknown, param: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParam(param, `\`${param}\` must be a string`, 'invalid_type');
  return value;
}

function parseLanguages(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  // A string is accepted too, the way tesseract spells it on the command line: "eng+san".
  const list = typeof value === 'string' ? value.split(/[+,]/) : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((l) => typeof l !== 'string' || l.trim() === '')) {
    throw invalidParam('languages', '`languages` must be a non-empty array of language names such as ["eng", "san"]');
  }
  return [...new Set((list as string[]).map((l) => tesseractLanguage(l.trim())))];
}

function parseLayout(value: unknown): OcrLayoutLevel {
  if (value === undefined || value === null) return 'text';
  if (typeof value !== 'string' || !LAYOUTS.includes(value as OcrLayoutLevel)) {
    throw invalidParam('layout', `\`layout\` must be one of ${LAYOUTS.join(', ')}`);
  }
  return value as OcrLayoutLevel;
}

/** JSON `{ model, image, languages?, layout? }`, or the same as multipart with the image as a file part. */
export function parseOcrRequest(body: RequestBody, rule: MediaRule): OcrRequest {
  if (body.kind === 'json') {
    const { json } = body;
    return {
      model: optionalString(json.model, 'model'),
      image: decodeMediaField(json.image, 'image', rule),
      languages: parseLanguages(json.languages),
      layout: parseLayout(json.layout),
    };
  }
  const { form } = body;
  const field = form.file('image') ? 'image' : form.file('file') ? 'file' : form.has('image') ? 'image' : 'file';
  const file = form.file(field);
  const image = file ? checkMedia(file.bytes, field, rule, file.type, file.filename) : decodeMediaField(form.field(field), field, rule);
  const languages =
    form.fields('languages[]').length > 0
      ? form.fields('languages[]')
      : form.fields('languages').length > 1
        ? form.fields('languages')
        : form.field('languages');
  return { model: form.field('model'), image, languages: parseLanguages(languages), layout: parseLayout(form.field('layout')) };
}

interface ContentPart {
  type?: unknown;
  text?: unknown;
  image_url?: unknown;
}

/**
 * OpenAI's vision format: the images of the last user message that has any, from
 * `{"type":"image_url","image_url":{"url":"data:image/png;base64,…"}}` parts.
 */
export function parseChatOcrRequest(json: Record<string, unknown>, rule: MediaRule): ChatOcrRequest {
  const messages = json.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalidParam('messages', '`messages` must be a non-empty array', 'invalid_type');
  const texts: string[] = [];
  let images: DecodedMedia[] = [];
  messages.forEach((message: unknown, i) => {
    if (typeof message !== 'object' || message === null)
      throw invalidParam(`messages[${i}]`, `\`messages[${i}]\` must be an object`, 'invalid_type');
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof content === 'string') {
      texts.push(content);
      return;
    }
    if (!Array.isArray(content)) return;
    const found: DecodedMedia[] = [];
    content.forEach((part: ContentPart, j) => {
      if (part?.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      if (part?.type !== 'image_url') return;
      const param = `messages[${i}].content[${j}].image_url.url`;
      const ref = part.image_url;
      const url = typeof ref === 'string' ? ref : typeof ref === 'object' && ref !== null ? (ref as { url?: unknown }).url : undefined;
      found.push(decodeMediaField(url, param, rule));
    });
    if (role === 'user' && found.length > 0) images = found;
  });
  if (images.length === 0) {
    throw invalidParam(
      'messages',
      'no image_url part in the user messages: this is an OCR model, it answers with the text it reads from images',
      'missing_image',
    );
  }
  const options = json.stream_options;
  if (json.n !== undefined && json.n !== 1)
    throw new ApiError(400, 'only n=1 is supported', 'invalid_request_error', 'n', 'unsupported_value');
  return {
    model: optionalString(json.model, 'model'),
    images,
    promptText: texts.join('\n'),
    stream: json.stream === true,
    includeUsage: typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true,
  };
}
