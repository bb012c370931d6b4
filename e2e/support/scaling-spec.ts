import { MODEL, PROFILE } from '../../services/gateway/test/support/stack';

/**
 * The scaling spec the scaling e2e suites share: one VM type of one replica of MODEL, one replica per
 * 10 req/s, none without demand (the model is in the catalogue at zero replicas), short windows and
 * delays so a test sees starts and drains in seconds; at most `maxVms` VMs.
 */
export function zeroReplicaSpec(maxVms: number) {
  return {
    replicas: { stableWindowSeconds: 3, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
    capacity: {
      vmTypes: [{ name: PROFILE, accelerator: 'gpu', costPerHour: 1, bootSeconds: 5, slots: { [MODEL]: 1 }, maxCount: maxVms }],
      maxVms,
      bootMarginSeconds: 0,
      forecastBand: 'off',
      scaleDownDelaySeconds: 2,
      scaleDownHysteresis: 0,
      minDrainSeconds: 1,
    },
    models: {
      [MODEL]: {
        metric: 'rps',
        replicaRequestsPerSecond: 10,
        targetUtilization: 1,
        maxUtilization: 1,
        minReplicas: 0,
        maxReplicas: maxVms,
      },
    },
  };
}
