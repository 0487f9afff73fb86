// The SMPP ESME (platform/mfa/sms-providers/smpp.ts) against a real SMPP peer: the `smpp`
// package's server as SMS centre (src/servers/smpp/smsc.ts). Each test names the SMPP behaviour it
// pins down.

import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryReport, SmsProviderContext } from '../../../src/platform/mfa/sms-providers/provider.js';
import { SmppProvider } from '../../../src/platform/mfa/sms-providers/smpp.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';

const reports: Array<{ provider: string; report: DeliveryReport }> = [];
const context: SmsProviderContext = {
  demo: false,
  sender: 'simtrust',
  onDeliveryReport: (provider, report) => reports.push({ provider, report }),
  callbackMac: async () => 'mac',
  log: { warn: () => {}, info: () => {} },
  fetch,
  write: () => {},
};

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  reports.length = 0;
});

async function setup(options: Partial<ConstructorParameters<typeof SmppProvider>[0]> = {}) {
  const smsc = await Smsc.start({ accounts: { esme: 'secret' }, receipt: 'DELIVRD' });
  open.push(smsc);
  const esme = new SmppProvider(
    {
      name: 'smsc-a',
      kind: 'smpp',
      url: smsc.url,
      systemId: 'esme',
      password: 'secret',
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      throttleRetryMs: 50,
      ...options,
    },
    context,
  );
  open.push(esme);
  return { smsc, esme };
}

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('SMPP ESME', () => {
  it('binds as transceiver, submits with registered_delivery and matches the deliver_sm receipt', async () => {
    const { smsc, esme } = await setup();
    const sent = await esme.send({ to: '+819012345678', text: '123456 is your code', reference: 'sms-1' });
    expect(sent.accepted).toBe(true);
    const m = await smsc.waitForMessage();
    expect(m).toMatchObject({
      destination: '819012345678',
      text: '123456 is your code',
      source: 'simtrust',
      registeredDelivery: 1,
    });
    expect(sent.providerMessageId).toBe(m.messageId);
    await until(() => reports.length === 1);
    expect(reports[0]).toEqual({
      provider: 'smsc-a',
      report: {
        reference: 'sms-1',
        providerMessageId: m.messageId,
        state: 'delivered',
        errorCode: undefined,
      },
    });
  });

  it('reports a failed delivery with the receipt error', async () => {
    const smsc = await Smsc.start({ accounts: { esme: 'secret' }, receipt: 'UNDELIV' });
    open.push(smsc);
    const esme = new SmppProvider(
      { name: 'a', kind: 'smpp', url: smsc.url, systemId: 'esme', password: 'secret' },
      context,
    );
    open.push(esme);
    await esme.send({ to: '+819012345678', text: 'x', reference: 'sms-2' });
    await until(() => reports.length === 1);
    expect(reports[0]?.report).toMatchObject({
      reference: 'sms-2',
      state: 'failed',
      errorCode: 'SMPP_DLR_ERR_001',
    });
  });

  it('sends Japanese text as UCS-2 and long texts as concatenated parts (TS 23.040 UDH)', async () => {
    const { smsc, esme } = await setup();
    const japanese = '認証コードは 123456 です。5分以内に入力してください。'.repeat(3);
    await esme.send({ to: '+819012345678', text: japanese, reference: 'ja' });
    const ja = await smsc.waitForMessage((m) => m.dataCoding === 8);
    expect(ja.text).toBe(japanese);
    expect(ja.parts).toBe(Math.ceil(japanese.length / 67));
    const long = 'The quick brown fox {jumps} over the lazy dog. '.repeat(8);
    await esme.send({ to: '+819012345678', text: long, reference: 'gsm' });
    const gsm = await smsc.waitForMessage((m) => m.dataCoding === 0 && m.parts > 1);
    expect(gsm.text).toBe(long);
  });

  it('keeps a throttled submit (ESME_RTHROTTLED) and sends it again after throttleRetryMs', async () => {
    const { smsc, esme } = await setup();
    smsc.throttleNext(2);
    const sent = await esme.send({ to: '+819012345678', text: 'throttled', reference: 't' });
    expect(sent.accepted).toBe(true);
    expect(smsc.submits).toBe(3);
    expect(smsc.messages.map((m) => m.text)).toEqual(['throttled']);
  });

  it('refuses a bad bind without a retry storm and fails the message after queueTimeoutMs', async () => {
    const { smsc, esme } = await setup({ password: 'wrong', queueTimeoutMs: 400, reconnectMaxMs: 5000 });
    await expect(esme.send({ to: '+819012345678', text: 'x', reference: 'b' })).rejects.toMatchObject({
      code: 'SMPP_NOT_BOUND',
    });
    expect(smsc.binds).toBe(0);
    expect(smsc.messages).toHaveLength(0);
  });
});
