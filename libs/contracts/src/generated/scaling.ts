/* Generated from proto/scaling/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * A provider action carried out for a decision: started, completed or failed.
 */
export interface ScalingAction {
  actionId: string;
  decisionId: string;
  provider: 'simulated' | 'local' | 'slurm' | 'kubernetes' | 'mdx';
  action: 'start-vm' | 'stop-vm' | 'drain-vm' | 'start-replica' | 'stop-replica';
  /**
   * VM or replica id
   */
  target: string;
  phase: 'started' | 'completed' | 'failed';
  error?: string | null;
  at: string;
}

/**
 * One scaling decision with every input it was made from, so it can be replayed and explained.
 */
export interface ScalingDecided {
  decisionId: string;
  stage: 'replicas' | 'vms';
  model?: string | null;
  decidedAt: string;
  /**
   * Spec, previous state, observations and forecast as the policy saw them
   */
  inputs: {};
  /**
   * What the policy asked for (desired replicas/VMs, starts, stops)
   */
  decision: {};
  reasons: string[];
}

/**
 * A capacity node moved between states (requested, booting, ready, draining, stopping, stopped, failed).
 */
export interface VmStateChanged {
  vmId: string;
  provider: 'simulated' | 'local' | 'slurm' | 'kubernetes' | 'mdx';
  vmType: string;
  /**
   * Model its workers serve
   */
  model?: string;
  /**
   * State before the change
   */
  from: 'none' | 'requested' | 'booting' | 'ready' | 'draining' | 'stopping' | 'stopped' | 'failed';
  /**
   * State after the change
   */
  to: 'none' | 'requested' | 'booting' | 'ready' | 'draining' | 'stopping' | 'stopped' | 'failed';
  reason?: string | null;
  at: string;
}
