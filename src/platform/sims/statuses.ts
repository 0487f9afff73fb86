// The SIM's statuses and speed classes as plain constants, apart from the SIM model (model.ts
// re-exports them) so that browser-safe modules — the event handler vocabulary the console imports —
// can name them without reaching the model's crypto.

export const SIM_STATUSES = ['ready', 'active', 'inactive', 'standby', 'suspended', 'terminated'] as const;
export type SimStatus = (typeof SIM_STATUSES)[number];

/** SORACOM's speed classes (UpdateSpeedClassRequest enum plus the list-filter extras). */
export const SPEED_CLASSES = [
  's1.minimum',
  's1.slow',
  's1.standard',
  's1.fast',
  's1.4xfast',
  's1.8xfast',
  'u1.standard',
  'u1.slow',
  't1.standard',
  'arc.standard',
] as const;
export type SpeedClass = (typeof SPEED_CLASSES)[number];

/**
 * SORACOM's `ExpiryTime.expiryAction`: what happens to the SIM at its expiry time (setSimExpiryTime).
 * `deleteSession` ends the data session and leaves the status; the other three are lifecycle moves.
 */
export const EXPIRY_ACTIONS = ['doNothing', 'deleteSession', 'deactivate', 'suspend', 'terminate'] as const;
export type ExpiryAction = (typeof EXPIRY_ACTIONS)[number];
