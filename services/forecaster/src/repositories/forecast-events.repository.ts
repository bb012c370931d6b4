import { Injectable } from '@nestjs/common';
import type { ForecastPublished } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** Forecasts over NATS, for the vm-scaler. */
@Injectable()
export class ForecastEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  published(forecast: ForecastPublished): void {
    this.bus.publish('forecast.published', forecast);
  }
}
