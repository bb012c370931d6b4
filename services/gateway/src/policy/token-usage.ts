import { StringDecoder } from 'node:string_decoder';

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** About four characters a token: the rough count where no text is at hand (OCR characters, batch estimates). */
export function estimateTokens(chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4);
}

function fromOpenAIUsage(u: unknown): TokenUsage | undefined {
  if (typeof u !== 'object' || u === null) return undefined;
  const { prompt_tokens: p, completion_tokens: c } = u as { prompt_tokens?: unknown; completion_tokens?: unknown };
  if (!Number.isInteger(p) || (p as number) < 0) return undefined;
  return { promptTokens: p as number, completionTokens: Number.isInteger(c) && (c as number) >= 0 ? (c as number) : 0 };
}

const USAGE_OBJECT = /"usage":\s*\{/;
/** Generated text of a chunk: chat content, reasoning, completion text, tool-call arguments. */
const GENERATED_TEXT = /"(?:content|text|reasoning_content|reasoning|arguments)":\s*"(?!")/;
const ERROR_EVENT = /^\s*\{\s*"error"\s*:/;

/**
 * Reads an OpenAI server-sent-event stream on the side while its bytes go to the client untouched:
 * the runtime's usage (final chunk with `stream_options.include_usage`), the number of chunks that
 * carried generated text (≈ tokens, for the gateway's own count), whether `[DONE]` arrived, and any
 * error event. Only chunks that carry usage or an error are JSON-parsed.
 */
export class SseUsageTracker {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** Chunks that carried generated text. */
  textEvents = 0;
  usage?: TokenUsage;
  done = false;
  error?: string;

  /** Feeds the next bytes; returns true when they hold the first generated text (time to first token). */
  push(chunk: Buffer): boolean {
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    const before = this.textEvents;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.line(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = start < text.length ? text.slice(start) : '';
    if (this.partial.length > 1 << 20) this.partial = ''; // a runaway line without newline: stop holding it
    return before === 0 && this.textEvents > 0;
  }

  private line(line: string): void {
    if (!line.startsWith('data:')) return;
    const data = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    if (GENERATED_TEXT.test(data)) this.textEvents += 1;
    if (USAGE_OBJECT.test(data) || ERROR_EVENT.test(data)) {
      try {
        const parsed = JSON.parse(data) as { usage?: unknown; error?: { message?: unknown } };
        const usage = fromOpenAIUsage(parsed.usage);
        if (usage) this.usage = usage;
        if (parsed.error) this.error = typeof parsed.error.message === 'string' ? parsed.error.message : 'error event from the runtime';
      } catch {
        // not JSON: nothing to learn from it
      }
    }
  }
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage of a complete (non-streamed) JSON response, found from the end where runtimes put it so a
 * large body (embeddings) is not parsed whole; falls back to parsing small bodies for the text (for the
 * gateway's own count).
 */
export function usageOfJsonBody(body: Buffer): { usage?: TokenUsage; completionChars: number; completionText?: string } {
  const at = body.lastIndexOf(USAGE_KEY);
  if (at !== -1) {
    const open = body.indexOf(0x7b /* { */, at + USAGE_KEY.length);
    if (open !== -1) {
      let depth = 0;
      for (let i = open; i < body.length; i++) {
        const c = body[i];
        if (c === 0x7b) depth++;
        else if (c === 0x7d && --depth === 0) {
          try {
            const usage = fromOpenAIUsage(JSON.parse(body.subarray(open, i + 1).toString('utf8')));
            if (usage) return { usage, completionChars: 0 };
          } catch {
            // fall through to the whole-body count
          }
          break;
        }
      }
    }
  }
  if (body.length > 4 << 20) return { completionChars: 0 };
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { choices?: { text?: unknown; message?: { content?: unknown } }[] };
    const texts: string[] = [];
    for (const choice of parsed.choices ?? []) {
      const text = choice.message?.content ?? choice.text;
      if (typeof text === 'string') texts.push(text);
    }
    const completionText = texts.join('');
    return { completionChars: completionText.length, completionText };
  } catch {
    return { completionChars: 0 };
  }
}

/** OpenAI's base cost of one image (detail "low"): what an OCR page bills as prompt, as the OCR runtime's chat usage does. */
export const OCR_IMAGE_PROMPT_TOKENS = 85;
/** One token per 100 ms of audio, the rate OpenAI's audio models bill input audio at. */
export const AUDIO_TOKENS_PER_SECOND = 10;

/**
 * Usage of a `/v1/ocr` answer: each image bills {@link OCR_IMAGE_PROMPT_TOKENS} prompt tokens, and the
 * characters read (spaces excluded, as the runtime counts them) one completion token per four.
 */
export function ocrUsage(body: Buffer): TokenUsage | undefined {
  const at = body.lastIndexOf(USAGE_KEY);
  if (at === -1) return undefined;
  const m = /^"usage"\s*:\s*(\{[^{}]*\})/.exec(body.toString('utf8', at, at + 256));
  if (!m) return undefined;
  try {
    const u = JSON.parse(m[1]) as { images?: unknown; characters?: unknown };
    if (!Number.isInteger(u.characters) || (u.characters as number) < 0) return undefined;
    const images = Number.isInteger(u.images) && (u.images as number) > 0 ? (u.images as number) : 1;
    return { promptTokens: images * OCR_IMAGE_PROMPT_TOKENS, completionTokens: estimateTokens(u.characters as number) };
  } catch {
    return undefined;
  }
}

/**
 * Usage of a transcription: the audio's duration (the runtime's `x-audio-duration-seconds`) bills
 * {@link AUDIO_TOKENS_PER_SECOND} prompt tokens a second; the transcript's text one completion token
 * per four characters (the `text` of a JSON answer, the whole body of text, srt and vtt).
 */
export function transcriptionUsage(audioSeconds: number | undefined, body: Buffer, contentType: string): TokenUsage & { counted: boolean } {
  let chars = 0;
  if (contentType.includes('json')) {
    try {
      const text = (JSON.parse(body.toString('utf8')) as { text?: unknown }).text;
      chars = typeof text === 'string' ? text.length : 0;
    } catch {
      chars = 0;
    }
  } else {
    chars = body.toString('utf8').length;
  }
  const seconds = audioSeconds !== undefined && Number.isFinite(audioSeconds) && audioSeconds >= 0 ? audioSeconds : undefined;
  return {
    promptTokens: seconds === undefined ? 0 : Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND),
    completionTokens: estimateTokens(chars),
    counted: seconds !== undefined,
  };
}
