import { BatchController, BatchControllerOptions } from '../../services/gateway/src/policy/batch-controller';
import { BatchPolicy } from './policies';

/** The gateway's controller, fed every tick with the interactive samples and heartbeats since the last one. */
export function adaptive(options: BatchControllerOptions): BatchPolicy & { readonly controller: BatchController } {
  const controller = new BatchController(options);
  return { name: 'adaptive', controller, update: (nowMs, samples, workers) => controller.update(nowMs, samples, workers) };
}
