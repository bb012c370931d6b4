import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { embeddingToBase64, embedText } from './embeddings';
import { failureError, sendError, sendJson } from './http-io';
import { ApiError, parseEmbeddingRequest } from './openai-requests';
import { checkModel, contextTooLong, ServingContext } from './serving-context';
import { countTokens, prefixBlockHashes, promptBytes } from './tokens';

/** POST /v1/embeddings: each input is a prefill-only request to the engine; vectors come from the text. */
export function handleEmbeddings(ctx: ServingContext, body: unknown, res: http.ServerResponse): void {
  const request = parseEmbeddingRequest(body);
  checkModel(ctx, request.model);
  const dims = request.dimensions ?? ctx.profile.embeddingDimension;
  if (dims > ctx.profile.embeddingDimension) {
    throw new ApiError(
      400,
      `'dimensions' must be at most ${ctx.profile.embeddingDimension} for this model`,
      'invalid_request_error',
      'dimensions',
      'invalid_value',
    );
  }
  const items = request.inputs.map((input) => ({ input, tokens: typeof input === 'string' ? countTokens(input) : input.length }));
  for (const item of items) {
    if (item.tokens > ctx.profile.maxModelLen) throw contextTooLong(ctx, item.tokens, 0, 'input');
  }
  const base = `embd-${randomUUID().replace(/-/g, '')}`;
  const pending = new Set(items.map((_, i) => `${base}-${i}`));
  let failed = false;
  res.on('close', () => {
    for (const id of pending) {
      ctx.finishReasons.delete(id);
      ctx.runtime.cancel(id);
    }
  });
  items.forEach((item, i) => {
    const id = `${base}-${i}`;
    const bytes = promptBytes(item.input);
    const blockTokens = ctx.profile.blockSize;
    ctx.finishReasons.set(id, 'stop');
    ctx.runtime.submit(
      { id, promptTokens: item.tokens, outputTokens: 0, prefix: { blockTokens, hashes: prefixBlockHashes(bytes, blockTokens) } },
      (event) => {
        if (event.type !== 'finished' && event.type !== 'failed') return;
        pending.delete(id);
        if (failed) return;
        if (event.type === 'failed') {
          failed = true;
          for (const other of pending) ctx.runtime.cancel(other);
          pending.clear();
          sendError(res, failureError(event));
          return;
        }
        if (pending.size > 0) return;
        const data = items.map((it, index) => {
          const text = typeof it.input === 'string' ? it.input : it.input.join(' ');
          const vector = embedText(text, dims);
          return { object: 'embedding', index, embedding: request.encoding === 'base64' ? embeddingToBase64(vector) : Array.from(vector) };
        });
        const tokens = items.reduce((sum, it) => sum + it.tokens, 0);
        sendJson(res, 200, { object: 'list', data, model: ctx.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
      },
    );
  });
}
