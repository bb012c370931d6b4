import * as http from 'node:http';
import { performance } from 'node:perf_hooks';

/** One streamed OpenAI-compatible request as the client saw it; times in wall-clock ms. */
export interface StreamResult {
  readonly ok: boolean;
  readonly status: number;
  readonly error?: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Arrival time of every chunk that carried text. */
  readonly chunkMs: readonly number[];
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

interface Chunk {
  choices?: Array<{ delta?: { content?: string | null }; text?: string }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/**
 * POSTs a streaming request (chat or completions) and records when each text chunk arrives.
 * Ask for `stream_options.include_usage` to get token counts back.
 */
export function streamRequest(url: string, body: object, agent: http.Agent, headers: Record<string, string> = {}): Promise<StreamResult> {
  const payload = JSON.stringify({ ...body, stream: true });
  const startMs = performance.now();
  return new Promise((resolve) => {
    const chunkMs: number[] = [];
    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    let streamError: string | undefined;
    const finish = (status: number, error?: string) =>
      resolve({
        ok: !error && !streamError && status === 200,
        status,
        error: error ?? streamError,
        startMs,
        endMs: performance.now(),
        chunkMs,
        promptTokens,
        completionTokens,
      });
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } },
      (res) => {
        const status = res.statusCode ?? 0;
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (data: string) => {
          const now = performance.now();
          buffered += data;
          let cut = buffered.indexOf('\n\n');
          while (cut >= 0) {
            const event = buffered.slice(0, cut);
            buffered = buffered.slice(cut + 2);
            cut = buffered.indexOf('\n\n');
            if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
            if (status !== 200) continue;
            const chunk = JSON.parse(event.slice(6)) as Chunk;
            if (chunk.error) streamError = chunk.error.message ?? 'error event in stream';
            const choice = chunk.choices?.[0];
            if (choice && (choice.delta?.content || choice.text)) chunkMs.push(now);
            if (chunk.usage) {
              promptTokens = chunk.usage.prompt_tokens;
              completionTokens = chunk.usage.completion_tokens;
            }
          }
        });
        res.on('end', () => finish(status, status === 200 ? undefined : `HTTP ${status}: ${buffered.slice(0, 200)}`));
        res.on('error', (err) => finish(status, err.message));
      },
    );
    req.on('error', (err) => finish(0, err.message));
    req.end(payload);
  });
}
