import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { DataPlaneController } from './data-plane.controller';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Puts the data plane in front of Nest's HTTP adapter: `/v1/*` goes to it, everything else to Express. */
export function mountDataPlane(app: INestApplication): void {
  const server = app.getHttpServer() as Server;
  const dataPlane = app.get(DataPlaneController);
  const framework = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url.startsWith('/v1/') || url === '/v1') dataPlane.handle(req, res);
    else for (const listener of framework) listener.call(server, req, res);
  });
}
