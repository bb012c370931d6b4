import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError, errorBody } from '@maas/openai-wire';

// One definition of the error and its body, @maas/openai-wire's (the wire format's owner); services import them from here too.
export { ApiError, errorBody, errorType } from '@maas/openai-wire';
export type { OpenAIErrorBody } from '@maas/openai-wire';

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
      res.status(exception.status).json(exception.toJSON());
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
