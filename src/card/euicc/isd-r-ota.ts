// The ISD-R's SMS side (GSMA SGP.02 §2.4.3, esim.md §4.4/§3.5): it sits in the card's toolkit runtime
// at the ISD-R TAR '000001' exactly as the anti-theft applet sits at its own TAR, so the SM-SR's
// ES5 commands go through the card's one SCP80 path (toolkit/ts-102-223-runtime.ts → ota/
// ts-102-225-card.ts: CC, ciphering, counter replay protection, PoR). The secured data is a TS 102 226
// expanded command script of ES5 C-APDUs; the answer (the PoR's data) is the expanded response script.
// A script that switched the profile ends with a REFRESH (UICC reset), after the PoR is out.
//
// The ISD-R also speaks first: on LOCATION STATUS it sends its default notifications as MO SMS, each
// an SCP80 command packet from the ISD-R TAR with the ISD-R's first key set, CNTR 0 and "no counter"
// (esim.md §3.5: the notification's own sequence number identifies it), and it reacts to a
// connectivity failure (Euicc.connectivity).

import type { OtaKeySet } from '../../crypto/ts-102-225-scp80.js';
import { checksumSpec, cipherSpec } from '../../crypto/ts-102-225-scp80.js';
import { fromHex } from '../../lib/hex.js';
import { encodeNotification } from '../../lib/sgp-02-es5.js';
import { encodeUserData, IEI, segmentSecuredPacket } from '../../lib/ts-23-040-sms-tpdu.js';
import {
  type MinimumSecurityLevel,
  type Spi,
  secureCommandPacket,
} from '../../lib/ts-102-225-secured-packet.js';
import {
  decodeCommandScript,
  encodeResponseScript,
  responseScript,
} from '../../lib/ts-102-226-remote-command.js';
import { parseCommandApdu } from '../iso-7816-4.js';
import { encodeSubmitTpdu } from '../toolkit/ts-23-040-submit.js';
import { EVENT, PRO_CMD, REFRESH, type ToolkitEvent } from '../toolkit/ts-102-223-constants.js';
import type { InstalledApplet } from '../toolkit/ts-102-223-runtime.js';
import type {
  ToolkitApplet,
  ToolkitContext,
  ToolkitRegistry,
  ToolkitSession,
} from '../toolkit/ts-102-241-applet-api.js';
import { SW } from '../ts-102-221.js';
import type { Euicc, ServiceStatus } from './euicc.js';
import type { PendingNotification, Scp80KeySet } from './euicc-state.js';
import { Scp81AdminAgent } from './scp81-admin-agent.js';
import { ISD_R_AID, ISD_R_TAR } from './sgp-02-annex-h.js';
import type { SecureSession } from './sgp-02-isd-r-keysets.js';

/** The ISD-R demands CC, ciphering and a rising counter (esim.md §4.4: SPI1 16 is the SGP.02 choice). */
export const ISD_R_MINIMUM_SECURITY: MinimumSecurityLevel = {
  checksum: true,
  ciphering: true,
  counter: 'higher',
};

/** SPI of a notification: CC, ciphered, no counter, no PoR (esim.md §3.5). */
export const NOTIFICATION_SPI: Spi = {
  integrity: 'cc',
  ciphering: true,
  counter: 'none',
  por: 'none',
  porIntegrity: 'none',
  porCiphered: false,
  porViaSubmit: false,
};

export const otaKeySetOf = (k: Scp80KeySet): OtaKeySet => ({
  kic: { algorithm: k.kicAlgorithm, key: k.kic },
  kid: { algorithm: k.kidAlgorithm, key: k.kid },
});

const isSuccess = (sw: number) =>
  sw >> 8 === 0x90 || sw >> 8 === 0x91 || sw >> 8 === 0x62 || sw >> 8 === 0x63;
const swBytes = (sw: number) => Uint8Array.of(sw >> 8, sw & 0xff);

/**
 * Run an expanded command script against the ISD-R (TS 102 226 §5.2.1: stop at the first failing
 * status word). `session` is the key set the script came under (FinaliseISDRhandover never deletes
 * it). Returns the response script and whether a REFRESH must follow.
 */
export function runIsdrScript(
  euicc: Euicc,
  secured: Uint8Array,
  session?: SecureSession,
): { response: Uint8Array; refresh: boolean } {
  const script = decodeCommandScript(secured);
  if (!script.ok)
    return {
      response: encodeResponseScript({
        form: 'definite',
        items: [{ type: 'bad-format', value: Uint8Array.of(0x01) }],
      }),
      refresh: false,
    };
  const fx = { refresh: false, ...(session === undefined ? {} : { session }) };
  const responses: { data: Uint8Array; statusWord: Uint8Array }[] = [];
  for (const item of script.value.items) {
    if (item.type !== 'c-apdu') continue;
    const parsed = parseCommandApdu(item.apdu);
    const r = parsed.ok
      ? euicc.processIsdr(parsed.value, fx)
      : { data: new Uint8Array(0), sw: SW.WRONG_LENGTH };
    responses.push({ data: r.data, statusWord: swBytes(r.sw) });
    if (!isSuccess(r.sw)) break;
  }
  return { response: responseScript(responses, script.value.form), refresh: fx.refresh };
}

/**
 * The ISD-R as the toolkit runtime sees it. With an SCP81 agent (scp81-admin-agent.ts) the ISD-R is
 * also reachable over HTTPS: an SMS whose secured data starts with '81' is the push that opens the
 * session (GP Amd B §3.7), and the agent hands the ISD-R its scripts (X-Admin-Targeted-Application
 * the ISD-R AID, or none) and each ISD-P its SCP03t data (the ISD-P's AID). A script that switched
 * the profile over HTTPS gets its REFRESH once the session has ended, not in the middle of it.
 */
export class IsdrOtaApplet implements ToolkitApplet {
  readonly #euicc: Euicc;
  #reference = 0;
  #agent: Scp81AdminAgent | undefined;
  #registry: ToolkitRegistry | undefined;
  readonly #targets = new Set<string>();
  #refreshPending = false;

  constructor(euicc: Euicc) {
    this.#euicc = euicc;
  }

  /** Serve HTTPS through `agent`: the ISD-R's scripts and the ISD-Ps' SCP03t data. */
  useAgent(agent: Scp81AdminAgent): void {
    this.#agent = agent;
    agent.register(ISD_R_AID, (script, session) => {
      const r = runIsdrScript(this.#euicc, script, session);
      this.#syncTargets();
      if (r.refresh) this.#refreshPending = true;
      return r.response;
    });
    this.#syncTargets();
  }

  /** The agent's session ended: a REFRESH it left pending goes out when the card is next idle. */
  sessionEnded(): void {
    if (this.#refreshPending) this.#registry?.setEvent(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE);
  }

  /** ISD-Ps created since: make them addressable over HTTPS. */
  #syncTargets(): void {
    const agent = this.#agent;
    if (agent === undefined) return;
    for (const aid of this.#euicc.isdpAids) {
      if (this.#targets.has(aid)) continue;
      this.#targets.add(aid);
      agent.register(aid, (data) => this.#euicc.processIsdpData(aid, data));
    }
  }

  install(registry: ToolkitRegistry): void {
    this.#registry = registry;
    registry.setEvent(EVENT.EVENT_FORMATTED_SMS_PP_ENV);
    registry.setEvent(EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS);
  }

  *processToolkit(event: ToolkitEvent, ctx: ToolkitContext): ToolkitSession {
    if (event === EVENT.EVENT_FORMATTED_SMS_PP_ENV) {
      const secured = ctx.envelope?.getSecuredData();
      if (secured === undefined) return;
      if (secured[0] === 0x81 && this.#agent !== undefined) {
        yield* this.#agent.trigger(secured, ctx);
        return;
      }
      const kvn = ctx.envelope?.getKeyVersion();
      const { response, refresh } = runIsdrScript(
        this.#euicc,
        secured,
        kvn === undefined ? undefined : { kvn },
      );
      this.#syncTargets();
      ctx.envelopeResponse?.post(response);
      if (refresh) yield* this.#refresh(ctx);
      return;
    }
    if (event === EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE) {
      // Called once the agent reported the session's end (its last script answered): the REFRESH may
      // cut the channel's closing handshake, which the SM-SR no longer waits for.
      if (!this.#refreshPending) return;
      this.#refreshPending = false;
      yield* this.#refresh(ctx);
      return;
    }
    if (event === EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS) {
      const status = ctx.envelope?.findTlv(0x1b)?.[0];
      if (status !== 0 && status !== 1 && status !== 2) return;
      const outcome = this.#euicc.connectivity(status as ServiceStatus);
      for (const n of outcome.send) yield* this.#sendNotification(ctx, n);
      if (outcome.refresh) yield* this.#refresh(ctx);
    }
  }

  *#refresh(ctx: ToolkitContext): Generator<{ bytes: Uint8Array }, void, { bytes: Uint8Array }> {
    ctx.proactive.init(PRO_CMD.REFRESH, REFRESH.UICC_RESET, 'terminal');
    yield* ctx.proactive.send();
  }

  /** One notification as MO SMS (one SMS, or concatenated): SEND SHORT MESSAGE to the SM-SR. */
  *#sendNotification(
    ctx: ToolkitContext,
    n: PendingNotification,
  ): Generator<{ bytes: Uint8Array }, void, { bytes: Uint8Array }> {
    const destination = this.#euicc.smsrDestination;
    const keys = this.#euicc.notificationKeys();
    if (destination === undefined || keys === undefined) return;
    const data = encodeNotification({ eid: this.#euicc.eid, type: n.type, aid: n.aid, seq: n.seq });
    if (!data.ok) return;
    const packet = secureCommandPacket({
      spi: NOTIFICATION_SPI,
      kic: (keys.kvn << 4) | cipherSpec(keys.kicAlgorithm).nibble,
      kid: (keys.kvn << 4) | checksumSpec(keys.kidAlgorithm).nibble,
      tar: fromHex(ISD_R_TAR) ?? new Uint8Array(3),
      counter: 0,
      keys: otaKeySetOf(keys),
      data: data.value,
    });
    if (!packet.ok) return;
    this.#reference = (this.#reference + 1) & 0xff;
    const segments = segmentSecuredPacket(packet.value, IEI.COMMAND_PACKET, this.#reference);
    if (!segments.ok) return;
    for (const ud of segments.value) {
      const tpdu = encodeSubmitTpdu(destination, encodeUserData(ud), this.#reference);
      if (tpdu === undefined) return;
      ctx.proactive.init(PRO_CMD.SEND_SHORT_MESSAGE, 0, 'network');
      ctx.proactive.appendTlv(0x8b, tpdu);
      yield* ctx.proactive.send();
    }
  }
}

/**
 * The ISD-R installed in the toolkit runtime, and behind it (same TAR, so the OTA dispatcher, which
 * takes the first match, gives every SMS to the ISD-R) the SCP81 agent with the ISD-R's PSK key sets.
 */
export function isdrApplets(euicc: Euicc, psk: (kvn: number) => Uint8Array | undefined): InstalledApplet[] {
  const isdr = new IsdrOtaApplet(euicc);
  const agent = new Scp81AdminAgent({
    eid: euicc.eid,
    isdRAid: ISD_R_AID,
    psk: (kvn) => psk(kvn),
    onSessionEnd: () => isdr.sessionEnded(),
  });
  isdr.useAgent(agent);
  const tar = fromHex(ISD_R_TAR) ?? new Uint8Array(3);
  const reportKvn = euicc.notificationKeys()?.kvn ?? 1;
  return [
    { id: 'isd-r', tar, applet: isdr, reportKvn, minimumSecurity: ISD_R_MINIMUM_SECURITY },
    { id: 'isd-r-scp81', tar, applet: agent, reportKvn, minimumSecurity: ISD_R_MINIMUM_SECURITY },
  ];
}
