import { randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import { Logger } from '@maas/logging';
import {
  ApiError,
  formatBytes,
  invalidParam,
  isCancellation,
  JobPool,
  modelNotFound,
  readRequestBody,
  Route,
  RuntimeMetrics,
  RuntimeServer,
  sendJson,
  sendText,
  startRuntimeServer,
  toApiError,
} from '@maas/media';
import { toBase64 } from './embedding-vector';
import { EmbeddingService } from './embedding.service';
import { GenerationService } from './generation.service';
import { loadLlamaRuntime, LlamaLoadOptions } from './llama-cpp.repository';
import { LlamaMetrics } from './llama-metrics';
import { LlamaRuntime } from './llama-runtime';
import {
  ChatRequest,
  CompletionRequest,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  parseTokenizeRequest,
} from './openai-requests';
import { chatShape, completionShape, SSE_DONE, sse, usage } from './openai-responses';

export interface LlamaServerOptions {
  readonly runtime: LlamaRuntime;
  /** The served model name (`model` in requests and `/v1/models`). */
  readonly modelId: string;
  /** Requests allowed to wait for a slot before 503s (default: unbounded, like vLLM). */
  readonly maxWaiting?: number;
  /** Largest request body; more is a 413. */
  readonly maxBodyBytes?: number;
  readonly host?: string;
  readonly port?: number;
  readonly logger?: Logger;
  readonly shutdownGraceMs?: number;
  /** llama-server's --api-key: every path but /health and /metrics then needs `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

export interface LlamaServer extends RuntimeServer {
  readonly modelId: string;
  readonly runtime: LlamaRuntime;
  readonly generation: GenerationService;
  readonly embeddings?: EmbeddingService;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

type Capability = 'chat' | 'completion' | 'embedding';

/** The OpenAI-compatible HTTP API over one loaded GGUF model; closing it does not unload the model. */
export async function startLlamaServer(options: LlamaServerOptions): Promise<LlamaServer> {
  const { runtime, modelId } = options;
  const logger = options.logger ?? new Logger('llama-engine');
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const generationPool = new JobPool(runtime.slots.length, options.maxWaiting);
  const embeddingPool = new JobPool(1, options.maxWaiting);
  const load = () => {
    const g = generationPool.load();
    const e = embeddingPool.load();
    return { running: g.running + e.running, waiting: g.waiting + e.waiting };
  };
  const metrics = new LlamaMetrics(new RuntimeMetrics(modelId, load), modelId);
  const generation = new GenerationService(runtime, generationPool, metrics);
  const embeddings = runtime.embeddings ? new EmbeddingService(runtime.embeddings, embeddingPool) : undefined;
  const capabilities: Capability[] = embeddings ? ['chat', 'completion', 'embedding'] : ['chat', 'completion'];
  const created = Math.floor(Date.now() / 1000);
  const modelCard = {
    id: modelId,
    object: 'model',
    created,
    owned_by: 'maas-llama',
    root: modelId,
    parent: null,
    max_model_len: runtime.contextSize,
    capabilities,
    meta: {
      architecture: runtime.facts.architecture,
      train_context_length: runtime.facts.trainContextSize,
      embedding_length: runtime.facts.embeddingLength,
      vocab_size: runtime.facts.vocabularySize,
      chat_format: runtime.facts.chatFormat,
      slots: runtime.slots.length,
      file_bytes: runtime.facts.fileBytes,
      runtime: runtime.facts.runtime,
    },
  };
  const body = async (req: http.IncomingMessage) => {
    const parsed = await readRequestBody(req, { json: maxBody, allows: `JSON of at most ${formatBytes(maxBody)}` });
    return parsed.kind === 'json' ? parsed.json : {};
  };
  const checkModel = (model: string | undefined) => {
    if (model !== undefined && model !== modelId) throw modelNotFound(model, [modelId]);
  };
  const checkTokenIds = (tokens: readonly number[], param: string) => {
    const bad = tokens.find((t) => t >= runtime.facts.vocabularySize);
    if (bad !== undefined)
      throw invalidParam(param, `\`${param}\` holds token id ${bad}; the vocabulary has ${runtime.facts.vocabularySize} tokens`);
  };

  const generate = async (
    kind: 'chat' | 'completion',
    request: ChatRequest | CompletionRequest,
    ctx: { res: http.ServerResponse; requestId: string; signal: AbortSignal },
  ) => {
    checkModel(request.model);
    const promptParam = kind === 'chat' ? 'messages' : 'prompt';
    let prompt: readonly number[];
    let stopTokens: readonly number[] = [];
    let stopTexts: readonly string[] = request.stop;
    if ('messages' in request) {
      const chat = runtime.renderChat(request.messages);
      prompt = chat.tokens;
      stopTokens = chat.stopTokens;
      stopTexts = [...new Set([...request.stop, ...chat.stopTexts])];
    } else if (typeof request.prompt === 'string') {
      prompt = runtime.tokenizePrompt(request.prompt);
    } else {
      checkTokenIds(request.prompt, 'prompt');
      prompt = request.prompt;
    }
    const room = runtime.contextSize - prompt.length;
    const asked = request.maxTokens ?? Math.max(room, 1);
    if (room < 1 || asked > room) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${runtime.contextSize} tokens. However, you requested ${prompt.length + asked} tokens (${prompt.length} in the ${promptParam}, ${asked} in the completion). Please reduce the length of the ${promptParam} or completion.`,
        'invalid_request_error',
        room < 1 || request.maxTokens === undefined ? promptParam : 'max_tokens',
        'context_length_exceeded',
      );
    }
    const { res } = ctx;
    const hex = randomUUID().replace(/-/g, '');
    const now = Math.floor(Date.now() / 1000);
    const shape =
      kind === 'chat'
        ? chatShape(`chatcmpl-${hex}`, now, modelId, request.includeUsage)
        : completionShape(`cmpl-${hex}`, now, modelId, request.includeUsage);
    const write = (text: string) => {
      if (text && !res.destroyed && !res.writableEnded) res.write(text);
    };
    try {
      const outcome = await generation.run(
        {
          prompt,
          maxTokens: asked,
          sampling: request.sampling,
          stopTexts,
          stopTokens,
          ignoreEos: request.ignoreEos,
          onStart: () => {
            if (!request.stream) return;
            res.writeHead(200, {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-cache',
              connection: 'keep-alive',
            });
            // Headers go out now so proxies and clients see the stream open while the prompt is evaluated.
            res.flushHeaders();
            write(shape.startEvent());
          },
          onText: (text) => {
            if (request.stream) write(shape.textEvent(text));
          },
        },
        { owner: ctx.requestId, signal: ctx.signal },
      );
      const u = usage(outcome.promptTokens, outcome.completionTokens, outcome.cachedTokens);
      if (!request.stream) {
        sendJson(res, 200, shape.body(outcome.text, outcome.finishReason, u));
        return;
      }
      write(shape.finishEvent(outcome.finishReason) + (request.includeUsage ? shape.usageEvent(u) : ''));
      res.end(SSE_DONE);
    } catch (err) {
      // Once the stream is open, an error can only be told in it.
      if (res.headersSent && !res.writableEnded && !isCancellation(err)) {
        write(sse(toApiError(err).toJSON()));
        res.end(SSE_DONE);
      }
      throw err;
    }
  };

  const routes: Route[] = [
    { method: 'GET', path: '/health', handle: ({ res }) => sendJson(res, 200, { status: 'ok', ...load() }) },
    {
      method: 'GET',
      path: '/metrics',
      handle: ({ res }) => sendText(res, 200, metrics.render(generation.kvCacheUsage()), 'text/plain; version=0.0.4; charset=utf-8'),
    },
    { method: 'GET', path: '/v1/models', handle: ({ res }) => sendJson(res, 200, { object: 'list', data: [modelCard] }) },
    {
      method: 'GET',
      path: /^\/v1\/models\/(?<id>.+)$/,
      handle: ({ res, params }) => {
        const id = decodeURIComponent(params.id);
        if (id !== modelId) throw modelNotFound(id, [modelId]);
        sendJson(res, 200, modelCard);
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/completions',
      metered: true,
      handle: async (ctx) => generate('chat', parseChatRequest(await body(ctx.req)), ctx),
    },
    {
      method: 'POST',
      path: '/v1/completions',
      metered: true,
      handle: async (ctx) => generate('completion', parseCompletionRequest(await body(ctx.req)), ctx),
    },
    {
      method: 'POST',
      path: '/v1/embeddings',
      metered: true,
      async handle({ req, res, requestId, signal }) {
        const request = parseEmbeddingRequest(await body(req));
        checkModel(request.model);
        if (!embeddings) {
          throw new ApiError(
            400,
            `model \`${modelId}\` is served without embeddings here; start the runtime with --embedding`,
            'invalid_request_error',
            'model',
            'unsupported_capability',
          );
        }
        if (request.dimensions !== undefined && request.dimensions !== embeddings.dimensions) {
          throw invalidParam(
            'dimensions',
            `\`dimensions\` must be ${embeddings.dimensions} (the model's embedding size); shortened embeddings are not supported`,
            'unsupported_value',
          );
        }
        request.inputs.forEach((input, i) => {
          const param = request.inputs.length === 1 ? 'input' : `input[${i}]`;
          if (typeof input !== 'string') checkTokenIds(input, param);
          const tokens = embeddings.inputLength(input);
          // llama.cpp needs one free cell beyond the input.
          if (tokens >= embeddings.contextSize) {
            throw new ApiError(
              400,
              `\`${param}\` is ${tokens} tokens; this model embeds at most ${embeddings.contextSize - 1}`,
              'invalid_request_error',
              param,
              'context_length_exceeded',
            );
          }
        });
        const outcome = await embeddings.embed(request.inputs, { owner: requestId, signal });
        metrics.embedded(request.inputs.length);
        sendJson(res, 200, {
          object: 'list',
          data: outcome.vectors.map((v, index) => ({
            object: 'embedding',
            index,
            embedding: request.encoding === 'base64' ? toBase64(v) : Array.from(v),
          })),
          model: modelId,
          usage: { prompt_tokens: outcome.tokens, total_tokens: outcome.tokens },
        });
      },
    },
    {
      method: 'POST',
      path: '/tokenize',
      async handle({ req, res }) {
        const request = parseTokenizeRequest(await body(req));
        checkModel(request.model);
        const tokens =
          'messages' in request
            ? runtime.renderChat(request.messages).tokens
            : runtime.tokenizePrompt(request.prompt, request.addSpecialTokens);
        sendJson(res, 200, { count: tokens.length, max_model_len: runtime.contextSize, tokens });
      },
    },
    {
      method: 'POST',
      path: '/detokenize',
      async handle({ req, res }) {
        const json = await body(req);
        checkModel(typeof json.model === 'string' ? json.model : undefined);
        const tokens = json.tokens;
        if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0))
          throw invalidParam('tokens', '`tokens` must be an array of token ids');
        checkTokenIds(tokens as number[], 'tokens');
        sendJson(res, 200, { prompt: runtime.detokenize(tokens as number[]) });
      },
    },
  ];
  const server = await startRuntimeServer({
    routes,
    host: options.host,
    port: options.port,
    logger,
    metrics: metrics.requests,
    shutdownGraceMs: options.shutdownGraceMs,
    apiKey: options.apiKey,
  });
  return { ...server, modelId, runtime, generation, ...(embeddings ? { embeddings } : {}) };
}

export interface LlamaEngineOptions extends Omit<LlamaServerOptions, 'runtime' | 'modelId'>, Omit<LlamaLoadOptions, 'logger'> {
  /** Defaults to the GGUF's file name without its extension. */
  readonly modelId?: string;
}

/** Loads the model, then serves it; `close()` stops serving and unloads the model. */
export async function startLlamaEngine(options: LlamaEngineOptions): Promise<LlamaServer> {
  const runtime = await loadLlamaRuntime({ ...options, logger: options.logger });
  const modelId = options.modelId ?? (options.modelPath.split(/[\\/]/).pop() ?? 'model').replace(/\.gguf$/i, '');
  try {
    const server = await startLlamaServer({ ...options, runtime, modelId });
    return {
      ...server,
      close: async () => {
        await server.close();
        await runtime.close();
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
