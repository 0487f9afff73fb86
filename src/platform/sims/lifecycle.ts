// The SIM lifecycle state machine. `terminated` is final: every move from it answers 409
// ERR_SIM_TERMINATED. Terminate needs termination protection removed first (enable_termination).
// Any other move answers 409 ERR_INVALID_TRANSITION.
//
//   ready ──activate──► active ◄──activate── inactive / suspended / standby
//   active ──deactivate──► inactive        active ──suspend──► suspended
//   ready, inactive ──set_to_standby──► standby ──deactivate──► inactive
//   any but terminated ──terminate──► terminated

import type { SimStatus } from './model.js';

export interface LifecycleRule {
  readonly operationId: string;
  readonly from: readonly SimStatus[];
  readonly to: SimStatus;
  readonly summary: string;
}

export const LIFECYCLE = {
  activate: {
    operationId: 'activateSim',
    from: ['ready', 'inactive', 'suspended', 'standby'],
    to: 'active',
    summary: 'Activate a SIM (ready, inactive, suspended or standby → active).',
  },
  deactivate: {
    operationId: 'deactivateSim',
    from: ['active', 'standby'],
    to: 'inactive',
    summary: 'Deactivate a SIM (active or standby → inactive).',
  },
  suspend: {
    operationId: 'suspendSim',
    from: ['active'],
    to: 'suspended',
    summary: 'Suspend a SIM (active → suspended).',
  },
  set_to_standby: {
    operationId: 'setSimToStandby',
    from: ['ready', 'inactive'],
    to: 'standby',
    summary: 'Put a SIM on standby (ready or inactive → standby; it becomes active on first use).',
  },
  terminate: {
    operationId: 'terminateSim',
    from: ['ready', 'active', 'inactive', 'standby', 'suspended'],
    to: 'terminated',
    summary: 'Terminate a SIM for good (needs enable_termination first).',
  },
} as const satisfies Record<string, LifecycleRule>;

export type LifecycleAction = keyof typeof LIFECYCLE;

export const LIFECYCLE_ACTIONS = Object.keys(LIFECYCLE) as LifecycleAction[];
