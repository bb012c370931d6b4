import * as os from 'node:os';
import * as path from 'node:path';
import { Module } from '@nestjs/common';
import { ConfigError, loadConfig, natsSecurityConfigSpec, type PlatformConfig } from '@maas/config';
import { Logger } from '@maas/logging';
import { NatsCredentialStore } from '@maas/nats';
import type { ScalingSpec } from '@maas/scaling';
import { Clock, CLOCK, PLATFORM_CONFIG, PlatformModule, projectRoot, ServiceDefinition, systemClock } from '@maas/platform';
import { CatalogueHandler } from './handlers/catalogue.handler';
import { DecisionHandler } from './handlers/decision.handler';
import { DemandHandler } from './handlers/demand.handler';
import { WorkerHandler } from './handlers/worker.handler';
import { Scaling1732500000000 } from './migrations/1732500000000-scaling';
import { VmLifecycle1732700000000 } from './migrations/1732700000000-vm-lifecycle';
import { EventOutbox1733200000000 } from './migrations/1733200000000-event-outbox';
import { EventOutboxOrder1733900000000 } from './migrations/1733900000000-event-outbox-order';
import { splitArgs } from './policy/worker-command';
import { KubernetesApi } from './repositories/providers/kubernetes-api';
import { KubernetesCapacityProvider } from './repositories/providers/kubernetes.provider';
import { LocalCapacityProvider } from './repositories/providers/local.provider';
import { MdxApi } from './repositories/providers/mdx-api';
import { MdxCapacityProvider } from './repositories/providers/mdx.provider';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from './repositories/providers/scaler-provider';
import { WallClockSimulatedProvider } from './repositories/providers/simulated.provider';
import { slurmCommands } from './repositories/providers/slurm-cli';
import { SlurmCapacityProvider } from './repositories/providers/slurm.provider';
import { IssuedWorkerCredentials, ProvidedWorkerCredentials, WorkerCredentials } from './repositories/providers/worker-environment';
import { EventOutboxRepository } from './repositories/event-outbox.repository';
import { ScalingDecisionEntity } from './repositories/scaling-decision.entity';
import { ModelCatalogueEventsRepository } from './repositories/model-catalogue-events.repository';
import { ScalingDecisionHistoryRepository } from './repositories/scaling-decision-history.repository';
import { ScalingDecisionRepository } from './repositories/scaling-decision.repository';
import { ScalingEventsRepository } from './repositories/scaling-events.repository';
import { VmEntity } from './repositories/vm.entity';
import { VmRepository } from './repositories/vm.repository';
import { CapacityActionsService } from './services/capacity-actions.service';
import { EventOutboxService } from './services/event-outbox.service';
import { ModelCatalogueService } from './services/model-catalogue.service';
import { SCALING_SPEC, ScalingLoopService } from './services/scaling-loop.service';
import { ScalingInputsService } from './services/scaling-inputs.service';
import { VmInventoryService } from './services/vm-inventory.service';
import { WorkerFleetService } from './services/worker-fleet.service';
import {
  loadScalingSpec,
  loadVmScalerConfig,
  mdxProviderSettings,
  simulatedProviderSpec,
  VM_SCALER_CONFIG,
  VmScalerConfig,
} from './vm-scaler.config';

export const VM_SCALER: ServiceDefinition = {
  name: 'vm-scaler',
  description: 'Two-stage scaling: worker replicas, then VMs started ahead of forecast demand',
  database: {
    entities: [ScalingDecisionEntity, VmEntity],
    migrations: [Scaling1732500000000, VmLifecycle1732700000000, EventOutbox1733200000000, EventOutboxOrder1733900000000],
  },
};

/** Workers sign in to NATS with a credential of their node's (or the operator's), never as the vm-scaler. */
function workerCredentials(config: VmScalerConfig, logger: Logger): WorkerCredentials {
  if (!config.SCALING_WORKER_NATS_DIR) {
    const seedFile = process.env.MAAS_WORKER_NATS_NKEY;
    if (
      !seedFile &&
      (config.SCALING_PROVIDER === 'local' || config.SCALING_PROVIDER === 'slurm') &&
      !loadConfig(natsSecurityConfigSpec).MAAS_NATS_INSECURE
    )
      logger.warn(
        'workers get no NATS credential (set SCALING_WORKER_NATS_DIR or MAAS_WORKER_NATS_NKEY): a NATS with authentication refuses them and their nodes fail',
      );
    return new ProvidedWorkerCredentials(seedFile);
  }
  const store = new NatsCredentialStore(path.resolve(config.SCALING_WORKER_NATS_DIR));
  if (!store.exists())
    throw new ConfigError(
      `config: SCALING_WORKER_NATS_DIR names ${store.dir}, which holds no NATS credential store (maas credentials init)`,
    );
  return new IssuedWorkerCredentials(store, (msg, fields) => logger.warn(msg, fields));
}

/** The one place a provider kind becomes an adapter. */
function capacityProvider(
  config: VmScalerConfig,
  platform: PlatformConfig,
  spec: ScalingSpec,
  clock: Clock,
  logger: Logger,
): ScalerCapacityProvider {
  const root = projectRoot();
  const workerEnv = { NATS_URL: platform.NATS_URL, MAAS_NAMESPACE: platform.MAAS_NAMESPACE, LOG_LEVEL: platform.LOG_LEVEL };
  const logDir = config.SCALING_LOG_DIR ?? path.join(os.tmpdir(), `maas-nodes-${platform.MAAS_NAMESPACE}`);
  const command = config.SCALING_WORKER_COMMAND
    ? splitArgs(config.SCALING_WORKER_COMMAND)
    : [process.execPath, path.join(root, 'bin', 'maas.js'), 'worker'];
  const common = {
    bootTimeoutMs: config.SCALING_BOOT_TIMEOUT_MS,
    stopGraceMs: config.SCALING_STOP_GRACE_MS,
    drainTimeoutMs: config.SCALING_WORKER_DRAIN_TIMEOUT_MS,
    logDir,
    env: workerEnv,
    credentials: workerCredentials(config, logger),
  };
  switch (config.SCALING_PROVIDER) {
    case 'simulated':
      return new WallClockSimulatedProvider(simulatedProviderSpec(config.SCALING_SIMULATED), clock);
    case 'slurm':
      return new SlurmCapacityProvider(
        slurmCommands,
        {
          ...common,
          script: config.SCALING_SLURM_SCRIPT ?? path.join(root, 'deploy', 'slurm', 'maas-worker.sbatch'),
          home: root,
          sbatchArgs: splitArgs(config.SCALING_SLURM_SBATCH_ARGS ?? ''),
          argsTemplate: config.SCALING_WORKER_ARGS,
          namespace: platform.MAAS_NAMESPACE,
          pollMs: config.SCALING_SLURM_POLL_MS,
        },
        clock,
        logger.child({ component: 'slurm-provider' }),
      );
    case 'mdx': {
      const mdx = mdxProviderSettings(config);
      const mdxLogger = logger.child({ component: 'mdx-provider' });
      return new MdxCapacityProvider(
        new MdxApi(config.SCALING_MDX_URL, mdx.credentials, mdxLogger),
        {
          projectId: mdx.projectId,
          pools: mdx.pools,
          serviceLevel: config.SCALING_MDX_SERVICE_LEVEL,
          pollMs: config.SCALING_MDX_POLL_MS,
          bootTimeoutMs: config.SCALING_BOOT_TIMEOUT_MS,
          stopGraceMs: config.SCALING_STOP_GRACE_MS,
          failedVmHoldMs: config.SCALING_MDX_FAILED_VM_HOLD_MS,
        },
        clock,
        mdxLogger,
      );
    }
    case 'kubernetes': {
      // stage 2's nodes come from a VM provider; the cluster does stage 1
      const nodes = capacityProvider({ ...config, SCALING_PROVIDER: config.SCALING_KUBERNETES_NODES }, platform, spec, clock, logger);
      const api = new KubernetesApi(KubernetesApi.config(config.SCALING_KUBERNETES_KUBECONFIG), config.SCALING_KUBERNETES_NAMESPACE);
      const options = {
        models: spec.models,
        workerTemplate: KubernetesApi.workerTemplate(config.SCALING_KUBERNETES_WORKER_TEMPLATE),
        conflictRetries: 5,
        rewatchMs: 1000,
      };
      return new KubernetesCapacityProvider(api, nodes, options, clock, logger.child({ component: 'kubernetes-provider' }));
    }
    case 'local':
      return new LocalCapacityProvider(
        { ...common, command, argsTemplate: config.SCALING_WORKER_ARGS, idPrefix: Math.floor(clock.now() / 1000).toString(36) },
        clock,
      );
  }
}

@Module({
  imports: [PlatformModule.forService(VM_SCALER)],
  controllers: [DemandHandler, WorkerHandler, CatalogueHandler, DecisionHandler],
  providers: [
    { provide: VM_SCALER_CONFIG, useFactory: loadVmScalerConfig },
    {
      provide: SCALING_SPEC,
      inject: [VM_SCALER_CONFIG],
      useFactory: (config: VmScalerConfig) => loadScalingSpec(config.SCALING_SPEC_FILE),
    },
    { provide: CLOCK, useValue: systemClock },
    { provide: CAPACITY_PROVIDER, inject: [VM_SCALER_CONFIG, PLATFORM_CONFIG, SCALING_SPEC, CLOCK, Logger], useFactory: capacityProvider },
    EventOutboxRepository,
    ScalingDecisionRepository,
    ScalingDecisionHistoryRepository,
    ModelCatalogueEventsRepository,
    ScalingEventsRepository,
    EventOutboxService,
    VmRepository,
    ScalingInputsService,
    WorkerFleetService,
    VmInventoryService,
    CapacityActionsService,
    ScalingLoopService,
    ModelCatalogueService,
  ],
})
export class VmScalerModule {}
