import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { INestApplication } from '@nestjs/common';
import { serveOwnServerSpans } from '@maas/telemetry';
import { RequestSpan } from '../services/request-span';
import { WebProxyService } from '../services/web-proxy.service';
import { DataPlaneController } from './data-plane.controller';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts the data plane in front of Nest's HTTP adapter: `/v1/*` goes to it, `/auth/*`, `/portal*` and
 * Open WebUI (by path, or on its own hostname) to the web proxy (when configured), everything else to Express.
 */
export function mountDataPlane(app: INestApplication): void {
  const server = app.getHttpServer() as Server;
  const dataPlane = app.get(DataPlaneController);
  const web = app.get(WebProxyService);
  const framework = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const isDataPlane = (url: string) => url.startsWith('/v1/') || url === '/v1';
  serveOwnServerSpans(isDataPlane); // /v1 spans carry GenAI attributes and end when the request is accounted
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (isDataPlane(url)) return RequestSpan.serve(req, res, () => dataPlane.handle(req, res));
    const proxied = web.route(req);
    if (proxied) web.handle(proxied, req, res);
    else for (const listener of framework) listener.call(server, req, res);
  });
  // Open WebUI's websockets (`/ws/socket.io`); nothing else on the gateway upgrades.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const proxied = web.route(req);
    if (proxied) web.upgrade(proxied, req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
}
