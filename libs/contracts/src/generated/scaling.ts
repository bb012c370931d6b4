/* Generated from proto/scaling/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * The models the vm-scaler manages (its scaling spec): gateways list them and hold their requests while capacity starts, even with no worker. Published at start and every few seconds, so a gateway that starts later learns it.
 */
export interface ModelCataloguePublished {
  publishedAt: string;
  models: {
    model: string;
    minReplicas: number;
    maxReplicas: number;
    /**
     * Expected time from a start decision to a ready worker (the fastest VM type that serves it): the ETA told to a held request
     */
    bootSeconds: number;
  }[];
}

/**
 * Ask the vm-scaler for its model catalogue (a gateway starting); the reply is a ModelCataloguePublished.
 */
export interface ModelCatalogueRequest {}

/**
 * Requests one gateway holds because their model has no ready worker (an activator's report): demand the vm-scaler acts on at once, starting capacity from zero. Published when a model's first request is held, every second while any is held, and once more when none is; a report replaces the same gateway's previous one.
 */
export interface ModelDemandPending {
  gatewayId: string;
  reportedAt: string;
  models: {
    model: string;
    /**
     * Requests waiting in this gateway for a worker of the model
     */
    held: number;
  }[];
}

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
 * A page of recorded decisions with their inputs; `nextCursor` is null on the last page.
 */
export interface ScalingDecisionListReply {
  decisions: ScalingDecided[];
  nextCursor: string | null;
}

/**
 * One page of the decisions the vm-scaler recorded (its scaling_decisions table), oldest first, decided in [since, until]; `cursor` is the previous page's `nextCursor`.
 */
export interface ScalingDecisionListRequest {
  /**
   * Only decisions whose replicas or capacity name this model
   */
  model?: string;
  since: string;
  until: string;
  /**
   * At most this many (default 100); a page also stops short of the NATS payload limit
   */
  limit?: number;
  cursor?: string;
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
