import { StringDecoder } from 'node:string_decoder';
import type { InferenceRoute } from './openai-request';

const STREAMED = /"stream"\s*:\s*true/;

/**
 * A streamed chat or completion request asks the runtime for its usage whether the client did or
 * not, so streams are billed on the runtime's count (tools, images and every other part included),
 * not on counted text. `strip` says the client did not ask: its usage chunk is dropped on the way back.
 */
export function askForStreamUsage(route: InferenceRoute, raw: Buffer): { raw: Buffer; strip: boolean } {
  const unchanged = { raw, strip: false };
  if ((route.endpoint !== 'chat.completions' && route.endpoint !== 'completions') || !STREAMED.test(raw.toString('latin1')))
    return unchanged;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return unchanged; // refused as it is by the request's validation
  }
  if (!isObject(body) || body.stream !== true) return unchanged;
  const options = body.stream_options;
  if (options !== undefined && !isObject(options)) return unchanged;
  if (isObject(options) && options.include_usage !== undefined) {
    if (options.include_usage === true || typeof options.include_usage !== 'boolean') return unchanged;
  }
  return { raw: Buffer.from(JSON.stringify({ ...body, stream_options: { ...(options ?? {}), include_usage: true } })), strip: true };
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
