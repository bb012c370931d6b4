import { main } from '@maas/platform';
import { VM_SCALER, VmScalerModule } from './vm-scaler.module';

main(VM_SCALER, VmScalerModule);
