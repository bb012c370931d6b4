/** OpenAI's error body: what the official SDKs parse into their error classes. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'service_unavailable_error',
};

/** The `error.type` OpenAI's API gives a status. */
export function errorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

export function errorBody(status: number, message: string, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: errorType(status), param, code } };
}

/**
 * An error in OpenAI's shape: `{"error":{"message","type","param","code"}}` with an HTTP status and any
 * headers the answer needs (`Retry-After`, `WWW-Authenticate`); what every runtime and service answers.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toJSON(): OpenAIErrorBody {
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
