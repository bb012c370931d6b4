/** An error the runtimes answer in OpenAI's shape: `{"error":{"message","type","param","code"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidParam = (param: string, message: string, code = 'invalid_value'): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, code);

export const tooLarge = (param: string | null, message: string): ApiError =>
  new ApiError(413, message, 'invalid_request_error', param, 'payload_too_large');

export const modelNotFound = (model: string, served: readonly string[]): ApiError =>
  new ApiError(404, `The model \`${model}\` does not exist. This runtime serves: ${served.join(', ')}.`, 'invalid_request_error', 'model', 'model_not_found');

/** The client went away or the server stopped: the job is dropped and nothing is answered. */
export class JobCancelled extends Error {
  constructor(reason = 'cancelled') {
    super(reason);
    this.name = 'AbortError';
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof JobCancelled || (err instanceof Error && err.name === 'AbortError');
}

/** The bytes looked right (magic number) but the engine could not decode them: the client's fault. */
export class UnreadableMedia extends Error {}
