import { Controller, Get, Header } from '@nestjs/common';
import { collectDefaultMetrics, register } from 'prom-client';

let collecting = false;
/**
 * Process metrics (CPU, memory, event loop lag, GC), once per process. No label names the service:
 * which service and instance a series comes from is Prometheus's to say (`job`, `instance` from the
 * scrape config, as deploy/prometheus/prometheus.yml does), and a label of our own by a name the
 * scrape config also sets would come out renamed `exported_<name>`.
 */
export function collectProcessMetrics(): void {
  if (collecting) return;
  collecting = true;
  collectDefaultMetrics();
}

/** `/metrics` in Prometheus text format: process metrics plus everything the service registered. */
@Controller()
export class MetricsController {
  @Get('metrics')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}
