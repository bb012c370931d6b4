import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { DemandHandler } from './handlers/demand.handler';
import { Scaling1732500000000 } from './migrations/1732500000000-scaling';
import { ScalingDecisionEntity } from './repositories/scaling-decision.entity';
import { VmEntity } from './repositories/vm.entity';
import { ScalingInputsService } from './services/scaling-inputs.service';

export const VM_SCALER: ServiceDefinition = {
  name: 'vm-scaler',
  description: 'Two-stage scaling: worker replicas, then VMs started ahead of forecast demand',
  database: { entities: [ScalingDecisionEntity, VmEntity], migrations: [Scaling1732500000000] },
};

@Module({
  imports: [PlatformModule.forService(VM_SCALER)],
  controllers: [DemandHandler],
  providers: [ScalingInputsService],
})
export class VmScalerModule {}
