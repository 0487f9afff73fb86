// The SIM operations the console offers, each with the permission (Tag:operationId) that allows it.

import { api, unwrap } from '../api/client';
import type { SpeedClass } from './model';

export type SimAction =
  | { kind: 'activate' }
  | { kind: 'suspend' }
  | { kind: 'deactivate' }
  | { kind: 'speedClass'; speedClass: SpeedClass }
  | { kind: 'group'; groupId: string }
  | { kind: 'tag'; name: string; value: string };

export const OPERATION: Record<SimAction['kind'], string> = {
  activate: 'Sim:activateSim',
  suspend: 'Sim:suspendSim',
  deactivate: 'Sim:deactivateSim',
  speedClass: 'Sim:updateSimSpeedClass',
  group: 'Sim:setSimGroup',
  tag: 'Sim:putSimTags',
};

export const SIM_PAGE_OPERATIONS = [
  ...Object.values(OPERATION),
  'Sim:setSimImeiLock',
  'Sim:unsetSimImeiLock',
  'Sim:enableSimTermination',
  'Sim:disableSimTermination',
];

export async function runAction(simId: string, action: SimAction): Promise<void> {
  const path = { sim_id: simId };
  switch (action.kind) {
    case 'activate':
      await unwrap(api.POST('/v1/sims/{sim_id}/activate', { params: { path } }));
      return;
    case 'suspend':
      await unwrap(api.POST('/v1/sims/{sim_id}/suspend', { params: { path } }));
      return;
    case 'deactivate':
      await unwrap(api.POST('/v1/sims/{sim_id}/deactivate', { params: { path } }));
      return;
    case 'speedClass':
      await unwrap(
        api.POST('/v1/sims/{sim_id}/update_speed_class', {
          params: { path },
          body: { speedClass: action.speedClass },
        }),
      );
      return;
    case 'group':
      await unwrap(
        api.POST('/v1/sims/{sim_id}/set_group', { params: { path }, body: { groupId: action.groupId } }),
      );
      return;
    case 'tag':
      await unwrap(
        api.PUT('/v1/sims/{sim_id}/tags', {
          params: { path },
          body: [{ tagName: action.name, tagValue: action.value }],
        }),
      );
      return;
  }
}

export interface BulkResult {
  readonly simId: string;
  readonly ok: boolean;
  readonly message?: string;
}

/** Runs `action` on every SIM, four at a time, reporting each result as it lands. */
export async function runBulk(
  simIds: readonly string[],
  action: SimAction,
  onResult: (r: BulkResult) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < simIds.length) {
      const simId = simIds[next++]!;
      try {
        await runAction(simId, action);
        onResult({ simId, ok: true });
      } catch (e) {
        onResult({ simId, ok: false, message: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, simIds.length) }, worker));
}
