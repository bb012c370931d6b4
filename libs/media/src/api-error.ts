/** Runtimes answer errors in OpenAI's shape, defined once in @maas/openai-wire. */
export { ApiError, invalidParam, modelNotFound, tooLarge } from '@maas/openai-wire';

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
