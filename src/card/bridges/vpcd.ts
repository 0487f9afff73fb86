// Bridge from the software card to PC/SC through vsmartcard's virtual reader driver (vpcd, loaded by
// pcscd). vpcd listens on TCP (35963 for its first reader); the card side ("vicc") connects to it.
// Every message is a 2-byte big-endian length and a payload. A 1-byte payload is a control code —
// 0 power off, 1 power on, 2 reset, 4 "send the ATR" — anything longer is a command APDU, answered
// with the response APDU. (vsmartcard virtualsmartcard/src/vpcd/vpcd.h and vpicc/vicc.py.)

import { connect, type Socket } from 'node:net';

export const VPCD_DEFAULT = { host: '127.0.0.1', port: 35963 } as const;

const CONTROL = { POWER_OFF: 0x00, POWER_ON: 0x01, RESET: 0x02, GET_ATR: 0x04 } as const;

export interface VpcdCard {
  readonly atr: Uint8Array;
  reset(): Uint8Array;
  transmit(apdu: Uint8Array): Uint8Array;
}

export interface VpcdBridgeOptions {
  readonly host: string;
  readonly port: number;
  readonly card: VpcdCard;
  readonly log: (line: string) => void;
  /** Stops the bridge: closes the connection and resolves the returned promise. */
  readonly signal: AbortSignal;
  /** Wait between connection attempts while vpcd is not (yet) listening. */
  readonly retryMs?: number;
}

/** Splits the byte stream into length-prefixed frames; total over any input. */
export class FrameReader {
  #buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.#buffer.length + chunk.length);
    merged.set(this.#buffer);
    merged.set(chunk, this.#buffer.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (merged.length - offset >= 2) {
      const length = ((merged[offset] as number) << 8) | (merged[offset + 1] as number);
      if (merged.length - offset - 2 < length) break;
      frames.push(merged.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.#buffer = merged.slice(offset);
    return frames;
  }
}

export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 2);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/** The vicc side of one frame: the bytes to send back, or undefined when vpcd expects no answer. */
export function handleFrame(card: VpcdCard, payload: Uint8Array): Uint8Array | undefined {
  if (payload.length === 0) return undefined;
  if (payload.length === 1) {
    switch (payload[0]) {
      case CONTROL.GET_ATR:
        return frame(card.atr);
      case CONTROL.POWER_ON:
      case CONTROL.RESET:
      case CONTROL.POWER_OFF:
        // Every power transition starts a new card session (nothing selected, PINs not verified).
        card.reset();
        return undefined;
      default:
        return undefined;
    }
  }
  return frame(card.transmit(payload));
}

/** Connect to vpcd and serve the card until `signal` aborts; reconnects when vpcd goes away. */
export async function runVpcdBridge(o: VpcdBridgeOptions): Promise<void> {
  const retryMs = o.retryMs ?? 1000;
  let announcedWaiting = false;
  while (!o.signal.aborted) {
    const outcome = await serveOnce(o);
    if (o.signal.aborted) break;
    if (outcome === 'refused') {
      if (!announcedWaiting) o.log(`waiting for vpcd on ${o.host}:${o.port} (is pcscd running?)`);
      announcedWaiting = true;
    } else {
      o.log('vpcd closed the connection; reconnecting');
      announcedWaiting = false;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryMs);
      o.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

function serveOnce(o: VpcdBridgeOptions): Promise<'refused' | 'closed'> {
  return new Promise((resolve) => {
    let connected = false;
    const socket: Socket = connect({ host: o.host, port: o.port });
    const reader = new FrameReader();
    const onAbort = () => socket.destroy();
    o.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      o.log(`connected to vpcd at ${o.host}:${o.port}`);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const payload of reader.push(chunk)) {
        const answer = handleFrame(o.card, payload);
        if (answer) socket.write(answer);
      }
    });
    socket.on('error', () => {
      // 'close' follows and decides what happens next.
    });
    socket.on('close', () => {
      o.signal.removeEventListener('abort', onAbort);
      resolve(connected ? 'closed' : 'refused');
    });
  });
}
