// The applet framework with an applet written for this test only: installed through the Uicc's toolkit
// setup (no change to the card), it uses DISPLAY TEXT, unformatted SMS-PP, its own memory,
// EVENT_PROACTIVE_HANDLER_AVAILABLE and timers; a second applet beside it keeps its own memory; an
// applet that throws ends its session without taking the card down.

import { describe, expect, it } from 'vitest';
import { cardFromFile, keysOf } from '../../../src/card/card-file.js';
import { Terminal } from '../../../src/card/terminal.js';
import { EVENT, PRO_CMD, type ToolkitEvent } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type {
  PersistentStore,
  ToolkitApplet,
  ToolkitContext,
  ToolkitRegistry,
  ToolkitSession,
} from '../../../src/card/toolkit/ts-102-241-applet-api.js';
import { Uicc } from '../../../src/card/uicc.js';
import { hex } from '../../../src/lib/hex.js';
import { encodeSmsDeliver, internationalAddress } from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { TextStringTlv } from '../../../src/lib/ts-102-223-tlv.js';
import { fixtureFile } from '../fixture.js';
import { cell, IMEI } from './fixture.js';

class HelloApplet implements ToolkitApplet {
  pendingText: string | undefined;
  constructor(readonly greeting: string) {}
  install(registry: ToolkitRegistry, _store: PersistentStore): void {
    registry.setEvent(EVENT.EVENT_PROFILE_DOWNLOAD);
    registry.setEvent(EVENT.EVENT_UNFORMATTED_SMS_PP_ENV);
  }
  *processToolkit(event: ToolkitEvent, ctx: ToolkitContext): ToolkitSession {
    if (event === EVENT.EVENT_PROFILE_DOWNLOAD) {
      const boots = (ctx.store.read()[0] ?? 0) + 1;
      ctx.store.write(Uint8Array.of(boots));
      yield* this.display(ctx, `${this.greeting} ${boots}`);
    } else if (event === EVENT.EVENT_UNFORMATTED_SMS_PP_ENV) {
      // Not shown from the envelope: asked for the proactive handler, shown when it is free.
      this.pendingText = 'SMS received';
      ctx.registry.setEvent(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE);
    } else if (event === EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE && this.pendingText !== undefined) {
      const text = this.pendingText;
      this.pendingText = undefined;
      yield* this.display(ctx, text);
    }
  }
  *display(ctx: ToolkitContext, text: string): ToolkitSession {
    ctx.proactive.init(PRO_CMD.DISPLAY_TEXT, 0x81, 'display');
    ctx.proactive.appendTlv(0x8d, TextStringTlv.codec.encode({ dcs: 0x04, text }));
    const r = yield* ctx.proactive.send();
    if (r.getGeneralResult() !== 0) throw new Error('display failed');
  }
}

class FaultyApplet implements ToolkitApplet {
  install(registry: ToolkitRegistry): void {
    registry.setEvent(EVENT.EVENT_PROFILE_DOWNLOAD);
  }
  // biome-ignore lint/correctness/useYield: this applet fails before its first command
  *processToolkit(): ToolkitSession {
    throw new Error('applet bug');
  }
}

function cardWith(applets: { id: string; applet: ToolkitApplet }[]) {
  const file = fixtureFile({ pin1Enabled: false });
  const base = cardFromFile(file).snapshot();
  const card = new Uicc(keysOf(file), base, {
    applets: applets.map((a) => ({ ...a, tar: hex('000001'), reportKvn: 1 })),
    keysets: new Map(),
  });
  card.reset();
  const shown: string[] = [];
  const modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    onDisplayText: (t) => shown.push(t),
  });
  return { card, modem, shown };
}

describe('applet framework', () => {
  it('an applet shows text at every boot and keeps a counter in its own memory', () => {
    const { card, modem, shown } = cardWith([{ id: 'hello', applet: new HelloApplet('Hello') }]);
    modem.boot();
    card.reset();
    modem.boot();
    expect(shown).toEqual(['Hello 1', 'Hello 2']);
    expect(card.snapshot().toolkit?.appletData.get('hello')).toEqual(Uint8Array.of(2));
  });

  it('an unformatted SMS-PP waits for EVENT_PROACTIVE_HANDLER_AVAILABLE, which fires once', () => {
    const { modem, shown } = cardWith([{ id: 'hello', applet: new HelloApplet('Hi') }]);
    modem.boot();
    const tpdu = encodeSmsDeliver({
      type: 'deliver',
      moreMessagesToSend: true,
      loopPrevention: false,
      statusReportIndication: false,
      replyPath: false,
      originatingAddress: internationalAddress('123'),
      protocolIdentifier: 0x00,
      dataCodingScheme: 0x04,
      serviceCentreTimeStamp: hex('62011211000000'),
      userDataLength: 2,
      userData: { body: Uint8Array.of(0x48, 0x69) },
    });
    if (!tpdu.ok) throw new Error(tpdu.error.message);
    expect(modem.deliverSms(tpdu.value).ok).toBe(true);
    expect(shown).toEqual(['Hi 1', 'SMS received']);
  });

  it('two applets, each with its own memory; a throwing applet ends only its own session', () => {
    const { card, modem, shown } = cardWith([
      { id: 'faulty', applet: new FaultyApplet() },
      { id: 'a', applet: new HelloApplet('A') },
      { id: 'b', applet: new HelloApplet('B') },
    ]);
    expect(modem.boot().ok).toBe(true);
    expect(shown).toEqual(['A 1', 'B 1']);
    expect(card.toolkitFaults).toBe(1);
    expect([...(card.snapshot().toolkit?.appletData.keys() ?? [])].sort()).toEqual(['a', 'b']);
  });
});
