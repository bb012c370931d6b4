import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { EngineEvent } from './engine-types';
import { failureError, sendError, sendJson } from './http-io';
import { ApiError, GenerationParams, parseChatRequest, parseCompletionRequest } from './openai-requests';
import { chatShape, completionShape, FinishReason, GenerationShape, SSE_DONE, usage } from './openai-responses';
import { fnv1a } from './rng';
import { checkModel, contextTooLong, ServingContext } from './serving-context';
import { countTokens, fillerOffset, fillerText, fillerToken, prefixBlockHashes, promptBytes, renderChatPrompt } from './tokens';

/** How many tokens to generate and why generation stops: the model's own answer length unless ignore_eos. */
function outputPlan(
  ctx: ServingContext,
  params: GenerationParams,
  bytes: Uint8Array,
  promptTokens: number,
  param: string,
): { tokens: number; reason: FinishReason } {
  const room = ctx.profile.maxModelLen - promptTokens;
  if (room < 1) throw contextTooLong(ctx, promptTokens, 1, param);
  const limit = params.maxTokens ?? room;
  if (limit > room) throw contextTooLong(ctx, promptTokens, limit, param);
  if (params.ignoreEos) return { tokens: limit, reason: 'length' };
  const [lo, hi] = ctx.profile.naturalOutputTokens;
  const natural = Math.max(params.minTokens, lo + (fnv1a(bytes, 0, bytes.length, 0x2545f491) % (hi - lo + 1)));
  return natural <= limit ? { tokens: natural, reason: 'stop' } : { tokens: limit, reason: 'length' };
}

/** POST /v1/chat/completions and /v1/completions, streamed over SSE or answered in one body. */
export function handleGeneration(ctx: ServingContext, kind: 'chat' | 'completion', body: unknown, res: http.ServerResponse): void {
  const request = kind === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
  checkModel(ctx, request.model);
  // vLLM rejects a priority unless started with --scheduling-policy priority.
  if (request.priority !== 0 && ctx.schedulingPolicy !== 'priority') {
    throw new ApiError(
      400,
      `Got priority ${request.priority} but Priority scheduling is not enabled.`,
      'invalid_request_error',
      'priority',
      'invalid_value',
    );
  }
  const prompt = 'messages' in request ? renderChatPrompt(request.messages) : request.prompt;
  const bytes = promptBytes(prompt);
  const promptTokens = typeof prompt === 'string' ? countTokens(prompt) : prompt.length;
  const plan = outputPlan(ctx, request, bytes, promptTokens, kind === 'chat' ? 'messages' : 'prompt');
  const created = Math.floor(Date.now() / 1000);
  const hex = randomUUID().replace(/-/g, '');
  const shape: GenerationShape =
    kind === 'chat'
      ? chatShape(`chatcmpl-${hex}`, created, ctx.model, request.includeUsage)
      : completionShape(`cmpl-${hex}`, created, ctx.model, request.includeUsage);
  const offset = fillerOffset(bytes);
  const blockTokens = ctx.profile.blockSize;
  let produced = 0;
  let done = false;
  const startStream = () => {
    if (!res.headersSent)
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  };
  const onEvent = (event: EngineEvent) => {
    if (event.type === 'first-token' || event.type === 'tokens') {
      const count = event.type === 'first-token' ? 1 : event.count;
      if (request.stream) {
        startStream();
        let text = '';
        for (let i = 0; i < count; i += 1)
          text += (produced + i === 0 ? shape.startEvent() : '') + shape.textEvent(fillerToken(offset, produced + i));
        res.write(text);
      }
      produced += count;
    } else if (event.type === 'finished') {
      done = true;
      const u = usage(event.promptTokens, event.outputTokens, event.cachedTokens);
      if (request.stream) {
        startStream();
        res.end(shape.finishEvent(plan.reason) + (request.includeUsage ? shape.usageEvent(u) : '') + SSE_DONE);
      } else {
        sendJson(res, 200, shape.body(fillerText(offset, event.outputTokens), plan.reason, u));
      }
    } else if (event.type === 'failed') {
      done = true;
      const error = failureError(event);
      if (res.headersSent) res.end(`data: ${JSON.stringify(error.toJSON())}\n\n${SSE_DONE}`);
      else sendError(res, error);
    }
  };
  ctx.finishReasons.set(shape.id, plan.reason);
  // A client that goes away frees its batch slot, as vLLM aborts the request.
  res.on('close', () => {
    if (done) return;
    ctx.finishReasons.delete(shape.id);
    ctx.runtime.cancel(shape.id);
  });
  ctx.runtime.submit(
    {
      id: shape.id,
      promptTokens,
      outputTokens: plan.tokens,
      prefix: { blockTokens, hashes: prefixBlockHashes(bytes, blockTokens) },
      priority: request.priority,
    },
    onEvent,
  );
}
