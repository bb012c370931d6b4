import { BatchBacklogReported, BatchListReply, BatchListRequest, BatchRequestQueued } from './generated/batch';
import {
  AccountStatusChanged,
  DisabledAccountListReply,
  DisabledAccountListRequest,
  SessionVerifyReply,
  SessionVerifyRequest,
  UserListReply,
  UserListRequest,
  UserReply,
  UserUpdateRequest,
} from './generated/auth';
import { ServiceError } from './generated/common';
import { ForecastPublished } from './generated/forecast';
import {
  KeyCreated,
  KeyCreateRequest,
  KeyListReply,
  KeyListRequest,
  KeyRevoked,
  KeyRevokeRequest,
  KeySummary,
  KeyVerifyReply,
  KeyVerifyRequest,
} from './generated/key';
import { MetricAggregated } from './generated/metrics';
import {
  ModelCataloguePublished,
  ModelCatalogueRequest,
  ModelDemandPending,
  ScalingAction,
  ScalingDecided,
  ScalingDecisionListReply,
  ScalingDecisionListRequest,
  VmStateChanged,
} from './generated/scaling';
import {
  KeyUsageReply,
  KeyUsageRequest,
  RequestCompleted,
  RequestsCompleted,
  UsageDeadLetterListReply,
  UsageDeadLetterListRequest,
  UsageRedriveReply,
  UsageRedriveRequest,
  UserUsageReply,
  UserUsageRequest,
} from './generated/usage';
import {
  RegistryListRequest,
  RegistrySnapshot,
  WorkerDeregistered,
  WorkerDraining,
  WorkerHeartbeat,
  WorkerRegistered,
} from './generated/worker';
import { MessageName } from './subjects';

/** The payload type of each message (the request, for commands). Checked against MESSAGE_KINDS below. */
export interface MessageTypes {
  'worker.registered': WorkerRegistered;
  'worker.heartbeat': WorkerHeartbeat;
  'worker.draining': WorkerDraining;
  'worker.deregistered': WorkerDeregistered;
  'router.list-workers': RegistryListRequest;
  'key-registry.verify': KeyVerifyRequest;
  'key-registry.create': KeyCreateRequest;
  'key-registry.list': KeyListRequest;
  'key-registry.revoke': KeyRevokeRequest;
  'key.revoked': KeyRevoked;
  'auth.verify-session': SessionVerifyRequest;
  'auth.list-users': UserListRequest;
  'auth.update-user': UserUpdateRequest;
  'auth.list-disabled-accounts': DisabledAccountListRequest;
  'account.status-changed': AccountStatusChanged;
  'usage.request-completed': RequestCompleted;
  'usage.requests-completed': RequestsCompleted;
  'metrics-collector.key-usage': KeyUsageRequest;
  'metrics-collector.user-usage': UserUsageRequest;
  'metrics-collector.list-dead-letters': UsageDeadLetterListRequest;
  'metrics-collector.redrive-usage': UsageRedriveRequest;
  'metric.aggregated': MetricAggregated;
  'forecast.published': ForecastPublished;
  'scaling.decided': ScalingDecided;
  'scaling.action-started': ScalingAction;
  'scaling.action-completed': ScalingAction;
  'scaling.action-failed': ScalingAction;
  'vm.state-changed': VmStateChanged;
  'model.catalogue-published': ModelCataloguePublished;
  'model.demand-pending': ModelDemandPending;
  'vm-scaler.list-models': ModelCatalogueRequest;
  'vm-scaler.list-decisions': ScalingDecisionListRequest;
  'batch.request-queued': BatchRequestQueued;
  'gateway.list-batches': BatchListRequest;
  'batch.backlog-reported': BatchBacklogReported;
}

/** Reply types of the commands. */
export interface ReplyTypes {
  'router.list-workers': RegistrySnapshot;
  'vm-scaler.list-models': ModelCataloguePublished;
  'vm-scaler.list-decisions': ScalingDecisionListReply;
  'key-registry.verify': KeyVerifyReply;
  'key-registry.create': KeyCreated;
  'key-registry.list': KeyListReply;
  'key-registry.revoke': KeySummary;
  'auth.verify-session': SessionVerifyReply;
  'auth.list-users': UserListReply;
  'auth.update-user': UserReply;
  'auth.list-disabled-accounts': DisabledAccountListReply;
  'metrics-collector.key-usage': KeyUsageReply;
  'metrics-collector.user-usage': UserUsageReply;
  'metrics-collector.list-dead-letters': UsageDeadLetterListReply;
  'metrics-collector.redrive-usage': UsageRedriveReply;
  'gateway.list-batches': BatchListReply;
}

export type CommandName = keyof ReplyTypes;
export type EventName = Exclude<MessageName, CommandName>;
export type { ServiceError };

// Compile-time check that every message name has exactly one payload type.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const everyMessageTyped: Exact<keyof MessageTypes, MessageName> = true;
