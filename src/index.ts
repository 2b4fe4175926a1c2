/** The public TypeScript API of cns. */
export { openCoordinator, type OpenCoordinatorOptions } from './coordinator/open-coordinator.js';
export { Coordinator, type ActorLike } from './coordinator/coordinator.js';
export type {
  Actor,
  ActorRole,
  ClaimOptions,
  ClaimOutcome,
  FleetStatus,
  ReviewInput,
  TaskDetail,
} from './coordinator/api-types.js';
export { AgentSession } from './coordinator/agent-session.js';
export type { CnsApi, CnsApiConfig } from './coordinator/cns-api.js';
export {
  startServer,
  createHttpHandler,
  type HttpHandlerOptions,
  type StartServerOptions,
  type RunningServer,
} from './http/http-server.js';
export { HttpCnsApi, type WhoAmI } from './http/http-client.js';
export { issueToken, type IssueTokenInput } from './http/tokens.js';
export { explainTask, describeReason, type Explanation, type Reason } from './coordinator/explain.js';
export { resolveConfig, defaultDbPath, type CnsConfig, type ConfigInput } from './core/config.js';
export { DEFAULT_POLICY, retryDelayMs, type Policy } from './core/policy.js';
export {
  TASK_STATUSES,
  TRANSITIONS,
  FINAL_STATUSES,
  isFinal,
  canTransition,
  allowedActions,
  type TaskStatus,
  type TaskAction,
} from './core/status.js';
export { systemClock, ManualClock, type Clock } from './core/clock.js';
export {
  CnsError,
  NotFoundError,
  InvalidInputError,
  LeaseLostError,
  ConflictError,
  ForbiddenError,
  type CnsErrorCode,
  type LeaseLostReason,
} from './core/errors.js';
export type { NewTask, NewWorkflow, CreateTasksInput } from './core/batch.js';
export type * from './core/types.js';
export type {
  Store,
  StoreOptions,
  AgentRegistration,
  AgentRef,
  TaskFilter,
  EventFilter,
  Page,
  ProgressInput,
  CreateTasksResult,
  NewToken,
} from './store/store.js';
export { openStore } from './store/open.js';
