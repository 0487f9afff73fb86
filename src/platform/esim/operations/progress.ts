// The progress port: how the SM-DP and the SM-SR tell the operator layer (operations-service.ts) what
// a function they run for it is doing. The operator layer sends each ES2/ES4 request with its
// operation id as the FunctionCallIdentifier (SGP.02 §5.1.1: the requester's own correlation id) and
// records every report keyed by that id as a step of the operation: GET /v1/esim/operations/{id}
// shows them while the function runs. The port never rejects and ignores ids it does not know, so a
// role may report unconditionally; between processes the same reports can travel on any channel.

import type { FunctionExecutionStatus } from '../es-soap/sgp-02-status-codes.js';

export type EsimStepState = 'running' | 'succeeded' | 'failed';

export interface EsimProgressReport {
  /** The FunctionCallIdentifier of the request being served (= the operation id). */
  readonly functionCallIdentifier: string;
  /** The step, in the reporter's words: `CreateISDP`, `EstablishISDPKeySet`, `EnableProfile`, … */
  readonly step: string;
  readonly state: EsimStepState;
  /** How the step ended (with `succeeded` / `failed`). */
  readonly status?: FunctionExecutionStatus;
  /** One line for people; never a secret. */
  readonly detail?: string;
}

export interface EsimProgressPort {
  report(report: EsimProgressReport): Promise<void>;
}

/** The default for a role that nobody listens to. */
export const NO_PROGRESS: EsimProgressPort = Object.freeze({ report: async () => undefined });
