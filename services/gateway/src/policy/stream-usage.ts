import { StringDecoder } from 'node:string_decoder';
import type { InferenceRoute } from './openai-request';

/** What the gateway adds to a stream that has no `stream_options`: the first member of the body's object. */
const ASK_USAGE = Buffer.from('"stream_options":{"include_usage":true},');

/**
 * A streamed chat or completion request asks the runtime for its usage whether the client did or
 * not, so streams are billed on the runtime's count (tools, images and every other part included),
 * not on counted text. `strip` says the client did not ask: its usage chunk is dropped on the way back.
 *
 * Reads the body as `parseInferenceRequest` parsed it (`raw` is that body's bytes), so nothing is
 * parsed twice; the bytes go on as they came unless the gateway asks. A body without `stream_options`
 * gets the option spliced in after its opening brace (it has a member, `stream`), so it is not
 * serialised again either.
 */
export function askForStreamUsage(route: InferenceRoute, body: Record<string, unknown>, raw: Buffer): { raw: Buffer; strip: boolean } {
  if ((route.endpoint !== 'chat.completions' && route.endpoint !== 'completions') || body.stream !== true) return { raw, strip: false };
  const options = body.stream_options;
  if (options === undefined) {
    const brace = raw.indexOf(0x7b); // JSON text: only whitespace comes before the object's brace
    if (brace !== -1) return { raw: Buffer.concat([raw.subarray(0, brace + 1), ASK_USAGE, raw.subarray(brace + 1)]), strip: true };
  }
  if (!isObject(options)) return { raw, strip: false };
  if (options.include_usage !== undefined && (options.include_usage === true || typeof options.include_usage !== 'boolean'))
    return { raw, strip: false };
  return { raw: Buffer.from(JSON.stringify({ ...body, stream_options: { ...options, include_usage: true } })), strip: true };
}

/**
 * Drops the usage-only chunk (`"choices": []` with a `usage` object) from a server-sent-event
 * stream, and the blank line that ends its event; every other byte passes as it came. Lines are
 * held only until their newline arrives.
 */
export class UsageChunkFilter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private dropBlank = false;

  push(chunk: Buffer): string {
    const text = this.partial + this.decoder.write(chunk);
    let out = '';
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl + 1);
      start = nl + 1;
      if (this.dropBlank && (line === '\n' || line === '\r\n')) {
        this.dropBlank = false;
        continue;
      }
      this.dropBlank = false;
      if (isUsageOnly(line)) {
        this.dropBlank = true;
        continue;
      }
      out += line;
    }
    this.partial = text.slice(start);
    return out;
  }

  /** What is left when the stream ends (a last line without newline). */
  end(): string {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return isUsageOnly(rest) ? '' : rest;
  }
}

function isUsageOnly(line: string): boolean {
  if (!line.startsWith('data:') || !line.includes('"usage"')) return false;
  try {
    const event = JSON.parse(line.slice(5)) as { choices?: unknown; usage?: unknown };
    return Array.isArray(event.choices) && event.choices.length === 0 && isObject(event.usage);
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
