import { SchedulingPolicy } from './engine-types';
import { EngineMetrics } from './metrics';
import { ApiError } from './openai-requests';
import { FinishReason } from './openai-responses';
import { EngineProfile } from './profile';
import { RealtimeEngine } from './realtime';

/** What the HTTP handlers share: the engine, what it serves, and the metrics it feeds. */
export interface ServingContext {
  readonly profile: EngineProfile;
  readonly model: string;
  readonly schedulingPolicy: SchedulingPolicy;
  readonly runtime: RealtimeEngine;
  readonly metrics: EngineMetrics;
  /** How each request in flight will report its end ('stop' or 'length'), for the success counter. */
  readonly finishReasons: Map<string, FinishReason>;
  state(): 'starting' | 'ready' | 'crashed';
}

export function checkModel(ctx: ServingContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.model) {
    throw new ApiError(404, `The model \`${model}\` does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
  }
}

export function contextTooLong(ctx: ServingContext, promptTokens: number, requested: number, param: string): ApiError {
  return new ApiError(
    400,
    `This model's maximum context length is ${ctx.profile.maxModelLen} tokens. However, you requested ${promptTokens + requested} tokens (${promptTokens} in the prompt, ${requested} for the completion).`,
    'invalid_request_error',
    param,
    'context_length_exceeded',
  );
}
