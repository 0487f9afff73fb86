// The eUICC devices of `npm run bench -- esim --bearer https`, in a process of their own (forked by
// bench/_esim-https-rig.ts) so the SM-DP/SM-SR process gets a core to itself and each side's CPU is
// measured apart. Each device is a software eUICC (the card file the rig issued) in a ToolkitModem
// with the BIP relay on. The SMSC between the two processes is the IPC channel: MT SMS arrive as
// `sms` messages (user data of SIM data download SMS, delivered to the device whose MSISDN they name);
// the card's MO SMS (PoRs, default notifications) leave reassembled as `mo` messages, as the OTA
// inbound path hands them to Es5Sms.receive. The SCP81 sessions are real TCP connections from each
// modem's relay to the SM-SR's PSK-TLS listener, wherever the push names it.

import { type CardFile, cardFromFile } from '../src/card/card-file.js';
import { LIFE_CYCLE } from '../src/card/euicc/euicc-state.js';
import { Terminal } from '../src/card/terminal.js';
import { ToolkitModem } from '../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../src/card/uicc.js';
import { ManualClock } from '../src/lib/clock.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  decodeUserData,
  reassembleSecuredPacket,
  type UserData,
} from '../src/lib/ts-23-040-sms-tpdu.js';
import { cell, IMEI, simDataDeliver } from '../test/card/toolkit/fixture.js';
import { PKI_NOW } from '../test/helpers/esim-pki.js';
import { type CryptoCounts, countCrypto } from './_esim-crypto-count.js';

export interface DeviceSpec {
  readonly file: CardFile;
  readonly msisdn: string;
  readonly iccidB: string;
}

/** Bench process → devices. */
export type ToDevices =
  | { readonly t: 'devices'; readonly devices: readonly DeviceSpec[]; readonly pollMs: number }
  | { readonly t: 'boot' }
  /** User data of the SMS (hex: the IPC channel carries JSON, cheaper than its structured clone). */
  | { readonly t: 'sms'; readonly destination: string; readonly userData: readonly string[] }
  | { readonly t: 'pending-notifications'; readonly id: number }
  | { readonly t: 'enabled-b'; readonly id: number }
  | { readonly t: 'cpu'; readonly id: number }
  | { readonly t: 'count-crypto'; readonly id: number; readonly on: boolean };

/** Devices → bench process. */
export type FromDevices =
  | { readonly t: 'ready' }
  | {
      readonly t: 'mo';
      readonly sender: string;
      readonly identifier: number;
      /** The reassembled secured packet, hex. */
      readonly packet: string;
    }
  | { readonly t: 'error'; readonly message: string }
  | { readonly t: 'answer'; readonly id: number; readonly value: unknown };

interface Device {
  readonly card: Uicc;
  readonly modem: ToolkitModem;
  readonly iccidB: string;
}

const send = (m: FromDevices) => process.send?.(m);
const fatal = (e: unknown) => {
  send({ t: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
};

const devices: Device[] = [];
const byMsisdn = new Map<string, Device>();
const clock = new ManualClock(PKI_NOW);
let stopCounting: (() => CryptoCounts) | undefined;

function build(spec: DeviceSpec, pollMs: number): Device {
  const card = cardFromFile(spec.file, { clock });
  const partial = new Map<number, UserData[]>();
  card.reset();
  const modem: ToolkitModem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    bip: { pollMs },
    onSms: (tpdu) => {
      const s = decodeSmsSubmit(tpdu);
      if (!s.ok) throw new Error(s.error.message);
      const concat = concatenationOf(s.value.userData.header ?? []);
      const reference = concat?.reference ?? -1;
      const parts = [...(partial.get(reference) ?? []), s.value.userData];
      if (concat !== undefined && parts.length < concat.total) {
        partial.set(reference, parts);
        return;
      }
      partial.delete(reference);
      const packet = reassembleSecuredPacket(parts);
      if (!packet.ok) throw new Error(packet.error.message);
      send({
        t: 'mo',
        sender: modem.imsi ?? '',
        identifier: packet.value.identifier,
        packet: Buffer.from(packet.value.packet).toString('hex'),
      });
    },
    // After the enable's REFRESH the device attaches with profile B and tells the card.
    onRefresh: () => setImmediate(() => modem.registered('normal_service')),
  });
  return { card, modem, iccidB: spec.iccidB };
}

function deliver(destination: string, userData: readonly string[]): void {
  const d = byMsisdn.get(destination);
  if (d === undefined) throw new Error(`no device at ${destination}`);
  for (const raw of userData) {
    const ud = decodeUserData(new Uint8Array(Buffer.from(raw, 'hex')), true);
    if (!ud.ok) throw new Error(ud.error.message);
    const r = d.modem.deliverSms(simDataDeliver(ud.value));
    if (!r.ok) throw new Error(r.error.message);
  }
}

const enabledB = (d: Device) =>
  d.card.euicc?.snapshot().isdps.find((p) => p.profile?.identity.iccid === d.iccidB)?.state ===
  LIFE_CYCLE.ENABLED;

process.on('message', (m: ToDevices) => {
  try {
    switch (m.t) {
      case 'devices':
        for (const spec of m.devices) {
          const d = build(spec, m.pollMs);
          devices.push(d);
          byMsisdn.set(spec.msisdn, d);
        }
        send({ t: 'ready' });
        break;
      case 'boot':
        // Attached: each eUICC declares itself (type 01, MO SMS); the SM-SR confirms by SMS (3A08).
        for (const d of devices) {
          const booted = d.modem.boot();
          if (!booted.ok) throw new Error(booted.error.message);
          d.modem.registered('normal_service');
        }
        break;
      case 'sms':
        deliver(m.destination, m.userData);
        break;
      case 'pending-notifications':
        send({
          t: 'answer',
          id: m.id,
          value: devices.reduce((n, d) => n + (d.card.euicc?.snapshot().notifications.length ?? 0), 0),
        });
        break;
      case 'enabled-b':
        send({ t: 'answer', id: m.id, value: devices.map(enabledB) });
        break;
      case 'cpu':
        send({ t: 'answer', id: m.id, value: process.cpuUsage() });
        break;
      case 'count-crypto':
        if (m.on) {
          stopCounting = countCrypto();
          send({ t: 'answer', id: m.id, value: null });
        } else {
          const counts = stopCounting?.();
          stopCounting = undefined;
          send({ t: 'answer', id: m.id, value: counts ?? null });
        }
        break;
    }
  } catch (e) {
    fatal(e);
  }
});
process.on('uncaughtException', fatal);
// The bench process went away: so do the devices.
process.on('disconnect', () => process.exit(0));
