// The rate a speed class stands for, as sent in RFC 5176 CoA-Request and in Access-Accept: WISPr-
// Bandwidth-Max-Up / -Down (vendor 14122, bits per second; see src/lib/radius/dictionary.ts for why
// this pair). Declared once, here; docs/aaa.md lists the same table.

import type { SpeedClass } from '../sims/model.js';

export interface Rate {
  /** Bits per second from the device. */
  readonly up: number;
  /** Bits per second to the device. */
  readonly down: number;
}

/** SORACOM's published nominal rates for each class (Air for Cellular, and the u1/t1/arc classes). */
export const SPEED_CLASS_RATES: Readonly<Record<SpeedClass, Rate>> = {
  's1.minimum': { up: 32_000, down: 32_000 },
  's1.slow': { up: 128_000, down: 128_000 },
  's1.standard': { up: 512_000, down: 512_000 },
  's1.fast': { up: 2_000_000, down: 2_000_000 },
  's1.4xfast': { up: 8_000_000, down: 8_000_000 },
  's1.8xfast': { up: 16_000_000, down: 16_000_000 },
  'u1.standard': { up: 512_000, down: 512_000 },
  'u1.slow': { up: 128_000, down: 128_000 },
  't1.standard': { up: 512_000, down: 512_000 },
  'arc.standard': { up: 2_000_000, down: 2_000_000 },
};

export function rateOf(speedClass: string): Rate {
  return SPEED_CLASS_RATES[speedClass as SpeedClass] ?? SPEED_CLASS_RATES['s1.standard'];
}
