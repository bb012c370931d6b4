import { MessageBus } from '@maas/nats';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { BatchBacklogRepository } from './batch-backlog.repository';
import { BatchBacklogService } from './batch-backlog.service';
import { BatchExecutorService } from './batch-executor.service';
import { BatchFinalizerService } from './batch-finalizer.service';
import { BatchInputsService } from './batch-inputs.service';
import { BatchQueueRepository } from './batch-queue.repository';
import { BatchController } from './batch.controller';
import { BatchRepository } from './batch.repository';
import { BatchService } from './batch.service';
import { FILE_STORE, LocalFileStore, SharedFileStore } from './file-store.repository';
import { Batches1732800000000 } from './migrations/1732800000000-batches';
import { BatchKeyAccess1733700000000 } from './migrations/1733700000000-batch-key-access';
import { BatchFileExpiry1733800000000 } from './migrations/1733800000000-batch-file-expiry';

/** The gateway's tables: batch and file metadata, per-request results. */
export const BATCH_DATABASE = {
  entities: [],
  migrations: [Batches1732800000000, BatchKeyAccess1733700000000, BatchFileExpiry1733800000000],
};

/** Providers of the batch API and its executor, bound here so the gateway module adds one line. */
export const BATCH_PROVIDERS = [
  // Shared by every gateway (NATS object store); files left in the local directory are moved in when read.
  {
    provide: FILE_STORE,
    inject: [GATEWAY_CONFIG, MessageBus],
    useFactory: (c: GatewayConfig, bus: MessageBus) => new SharedFileStore(bus, new LocalFileStore(c.GATEWAY_FILE_STORE_DIR)),
  },
  BatchRepository,
  BatchInputsService,
  BatchQueueRepository,
  BatchService,
  BatchController,
  BatchFinalizerService,
  BatchExecutorService,
  BatchBacklogRepository,
  BatchBacklogService,
];
