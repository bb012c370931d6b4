import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ModelCataloguePublished } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { Clock, CLOCK } from '@maas/platform';
import type { ScalingSpec } from '@maas/scaling';
import { modelCatalogue } from '../policy/model-catalogue';
import { ModelCatalogueEventsRepository } from '../repositories/model-catalogue-events.repository';
import { SCALING_SPEC } from './scaling-loop.service';

/** Re-published this often, so a gateway that starts (or reconnects) later learns the catalogue within it. */
export const CATALOGUE_REPUBLISH_MS = 2000;

/** Announces the models this vm-scaler manages (and answers a gateway that asks): gateways list them and hold their requests while capacity starts. */
@Injectable()
export class ModelCatalogueService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(SCALING_SPEC) private readonly spec: ScalingSpec,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly events: ModelCatalogueEventsRepository,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.publish();
    this.timer = setInterval(() => this.publish(), CATALOGUE_REPUBLISH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** The catalogue as it stands (the answer to a gateway that asks). */
  current(): ModelCataloguePublished {
    return modelCatalogue(this.spec, this.clock.now());
  }

  publish(): void {
    try {
      this.events.published(this.current());
    } catch (err) {
      // NATS away: the next round publishes it again
      this.logger.debug('model catalogue not published', { error: (err as Error).message });
    }
  }
}
