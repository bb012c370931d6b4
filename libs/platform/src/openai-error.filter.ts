import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';

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

/** An HTTP error that already knows its OpenAI shape. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message, status);
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: errorType(this.getStatus()), param: this.param, code: this.code } };
  }
}

export function errorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

export function errorBody(status: number, message: string, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: errorType(status), param, code } };
}

/** Turns every exception into an OpenAI-style JSON error with the right status. */
@Catch()
export class OpenAIErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof ApiError) {
      for (const [k, v] of Object.entries(exception.headers)) res.setHeader(k, v);
      res.status(exception.getStatus()).json(exception.body());
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const raw = typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? exception.message);
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw);
      const code = status === 404 ? 'not_found' : status === 413 ? 'request_too_large' : null;
      res.status(status).json(errorBody(status, message, code));
      return;
    }
    // Body-parser and other middleware errors carry a status but are not HttpExceptions.
    const e = exception as { status?: number; statusCode?: number; type?: string; message?: string };
    const status = e.status ?? e.statusCode ?? HttpStatus.INTERNAL_SERVER_ERROR;
    if (status === 413) {
      res.status(413).json(errorBody(413, 'request body is larger than this endpoint accepts', 'request_too_large'));
    } else if (status === 400 && e.type === 'entity.parse.failed') {
      res.status(400).json(errorBody(400, `request body is not valid JSON: ${e.message ?? ''}`.trim(), 'invalid_json'));
    } else if (status < 500) {
      res.status(status).json(errorBody(status, e.message ?? 'bad request'));
    } else {
      res.status(500).json(errorBody(500, 'internal error', 'internal_error'));
    }
  }
}
