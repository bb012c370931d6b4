import { checkMedia, decodeMediaField, DecodedMedia, invalidParam, MediaRule, RequestBody } from '@maas/media';
import { Granularity, RESPONSE_FORMATS, ResponseFormat } from './transcript-format';

/** `POST /v1/audio/transcriptions`, multipart (OpenAI's form) or JSON with the file base64-encoded. */
export interface TranscriptionRequest {
  readonly model?: string;
  readonly audio: DecodedMedia;
  readonly language?: string;
  readonly prompt?: string;
  readonly responseFormat: ResponseFormat;
  readonly temperature?: number;
  readonly granularities: ReadonlySet<Granularity>;
}

type Raw = {
  model?: unknown;
  language?: unknown;
  prompt?: unknown;
  response_format?: unknown;
  temperature?: unknown;
  timestamp_granularities?: unknown;
};

function str(value: unknown, param: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalidParam(param, `\`${param}\` must be a string`, 'invalid_type');
  return value;
}

function parseFields(raw: Raw, audio: DecodedMedia): TranscriptionRequest {
  const format = str(raw.response_format, 'response_format') ?? 'json';
  if (!RESPONSE_FORMATS.includes(format as ResponseFormat)) {
    throw invalidParam('response_format', `\`response_format\` must be one of ${RESPONSE_FORMATS.join(', ')}, got "${format}"`);
  }
  let temperature: number | undefined;
  if (raw.temperature !== undefined && raw.temperature !== null && raw.temperature !== '') {
    temperature = Number(raw.temperature);
    if (!Number.isFinite(temperature) || temperature < 0 || temperature > 1)
      throw invalidParam('temperature', '`temperature` must be a number between 0 and 1');
  }
  const list =
    raw.timestamp_granularities === undefined
      ? []
      : Array.isArray(raw.timestamp_granularities)
        ? raw.timestamp_granularities
        : [raw.timestamp_granularities];
  const granularities = new Set<Granularity>();
  for (const g of list) {
    if (g !== 'segment' && g !== 'word')
      throw invalidParam('timestamp_granularities', '`timestamp_granularities` items must be "segment" or "word"');
    granularities.add(g);
  }
  return {
    model: str(raw.model, 'model'),
    audio,
    language: str(raw.language, 'language'),
    prompt: str(raw.prompt, 'prompt'),
    responseFormat: format as ResponseFormat,
    temperature,
    granularities,
  };
}

export function parseTranscriptionRequest(body: RequestBody, rule: MediaRule): TranscriptionRequest {
  if (body.kind === 'json') {
    return parseFields(body.json as Raw, decodeMediaField(body.json.file, 'file', rule));
  }
  const { form } = body;
  const file = form.file('file');
  // A client may also send the base64 text as a plain form field.
  const audio = file ? checkMedia(file.bytes, 'file', rule, file.type, file.filename) : decodeMediaField(form.field('file'), 'file', rule);
  const granularities = [...form.fields('timestamp_granularities[]'), ...form.fields('timestamp_granularities')];
  return parseFields(
    {
      model: form.field('model'),
      language: form.field('language'),
      prompt: form.field('prompt'),
      response_format: form.field('response_format'),
      temperature: form.field('temperature'),
      timestamp_granularities: granularities,
    },
    audio,
  );
}
