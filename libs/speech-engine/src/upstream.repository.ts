import * as http from 'node:http';
import * as https from 'node:https';
import { ApiError, asBodyBytes } from '@maas/media';
import { TranscriptionRequest } from './transcription-request';

export interface UpstreamAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** An external transcription server speaking OpenAI's API (faster-whisper-server, whisper.cpp server, vLLM). */
export interface TranscriptionUpstream {
  readonly url: string;
  transcribe(request: TranscriptionRequest, model: string, signal?: AbortSignal): Promise<UpstreamAnswer>;
  /** GET on a path of the upstream (health probes, its model list). */
  get(path: string, timeoutMs: number): Promise<UpstreamAnswer>;
}

export interface UpstreamOptions {
  /** Sent as `Authorization: Bearer …` when the upstream wants a key. */
  readonly apiKey?: string;
}

/**
 * Forwards as OpenAI's multipart form whatever form the client used. Node's http rather than fetch:
 * fetch gives up after 5 minutes without response headers, and an hour of audio takes longer.
 */
export class OpenAiTranscriptionUpstream implements TranscriptionUpstream {
  readonly url: string;
  private readonly base: URL;

  constructor(
    baseUrl: string,
    private readonly options: UpstreamOptions = {},
  ) {
    const base = new URL(baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`upstream URL must be http(s), got ${baseUrl}`);
    // Accept both http://host:port and http://host:port/v1.
    base.pathname = base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.base = base;
    this.url = base.toString().replace(/\/$/, '');
  }

  async transcribe(request: TranscriptionRequest, model: string, signal?: AbortSignal): Promise<UpstreamAnswer> {
    const form = new FormData();
    const name = request.audio.filename ?? `audio.${request.audio.type.extension}`;
    form.append('file', new Blob([asBodyBytes(request.audio.bytes)], { type: request.audio.type.mime }), name);
    form.append('model', model);
    if (request.language) form.append('language', request.language);
    if (request.prompt) form.append('prompt', request.prompt);
    form.append('response_format', request.responseFormat);
    if (request.temperature !== undefined) form.append('temperature', String(request.temperature));
    for (const g of request.granularities) form.append('timestamp_granularities[]', g);
    // Serialise with the platform's own encoder to get the bytes and the boundary.
    const encoded = new Response(form);
    const body = Buffer.from(await encoded.arrayBuffer());
    return this.send(
      'POST',
      '/v1/audio/transcriptions',
      { 'content-type': encoded.headers.get('content-type') as string, 'content-length': String(body.length) },
      body,
      signal,
    );
  }

  get(path: string, timeoutMs: number): Promise<UpstreamAnswer> {
    return this.send('GET', path, {}, undefined, AbortSignal.timeout(timeoutMs));
  }

  private send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal?: AbortSignal,
  ): Promise<UpstreamAnswer> {
    const target = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    const client = target.protocol === 'https:' ? https : http;
    const auth: Record<string, string> = this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
    return new Promise((resolve, reject) => {
      const req = client.request(target, { method, headers: { ...headers, ...auth }, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 502,
            contentType: String(res.headers['content-type'] ?? 'application/octet-stream'),
            body: Buffer.concat(chunks),
          }),
        );
        res.once('error', reject);
      });
      req.once('error', (err: Error) => {
        if (err.name === 'AbortError') reject(err);
        else
          reject(
            new ApiError(
              502,
              `transcription upstream ${this.url} is unreachable: ${err.message}`,
              'server_error',
              null,
              'upstream_unreachable',
            ),
          );
      });
      req.end(body);
    });
  }
}
