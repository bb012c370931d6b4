// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import { main } from '@maas/platform';
import { VM_SCALER, VmScalerModule } from './vm-scaler.module';

main(VM_SCALER, VmScalerModule);
