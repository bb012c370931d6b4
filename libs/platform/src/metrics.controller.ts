import { Controller, Get, Header } from '@nestjs/common';
import { register } from 'prom-client';

/** `/metrics` in Prometheus text format: process metrics plus everything the service registered. */
@Controller()
export class MetricsController {
  @Get('metrics')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}
