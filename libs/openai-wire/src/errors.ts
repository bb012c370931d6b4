/** An error in OpenAI's shape: `{"error":{"message","type","param","code"}}` with an HTTP status; what every runtime answers. */
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
  new ApiError(
    404,
    `The model \`${model}\` does not exist. This runtime serves: ${served.join(', ')}.`,
    'invalid_request_error',
    'model',
    'model_not_found',
  );

/** The ApiError `fn` throws (for specs of request checks); fails when it throws none or another error. */
export function refusalOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError, but nothing was thrown');
}
