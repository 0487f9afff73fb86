// Fault test: the SMPP link to the SMS centre drops while one-time codes are waiting to go out.
// Logins keep coming while the SMSC is unreachable; the ESME reconnects with backoff (no storm),
// binds again and sends each waiting OTP exactly once — none lost, none duplicated — and each user
// logs in with the code that reached their phone.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SmppProvider } from '../../../src/platform/mfa/sms-providers/smpp.js';
import {
  Browser,
  codeIn,
  type GatewayFixture,
  hidden,
  PASSWORD,
  startGatewayFixture,
} from '../gateway/fixture.js';

let f: GatewayFixture;
beforeAll(async () => {
  f = await startGatewayFixture({
    config: { mfaAddressMaxAttempts: 10_000 },
    smsProviders: ({ smsc }) => [
      {
        name: 'smsc',
        kind: 'smpp',
        url: smsc.url,
        systemId: 'gateway',
        password: 'secret',
        reconnectMinMs: 100,
        reconnectMaxMs: 800,
        windowSize: 2,
        throttleRetryMs: 100,
        queueTimeoutMs: 20_000,
      },
    ],
  });
});
afterAll(async () => {
  await f?.close();
});

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('SMPP link failure with OTPs queued', () => {
  it('sends every queued OTP once after the reconnect', async () => {
    const esme = f.platform.sms.provider('smsc') as SmppProvider;
    esme.start();
    await until(() => esme.linkState === 'bound');
    const users = Array.from({ length: 6 }, (_, i) => ({
      userId: `fault${i}`,
      phone: `+8170${String(i).padStart(8, '0')}`,
    }));
    for (const u of users) {
      await f.platform.directories.createUser(f.admin, f.directoryId, {
        userId: u.userId,
        password: PASSWORD,
        phoneNumber: u.phone,
        phoneVerified: true,
      });
    }
    const before = f.smsc.messages.length;
    const submitsBefore = f.smsc.submits;

    // The SMSC goes away: the link is cut and reconnects are refused for a while.
    f.smsc.refuseConnections(true);
    f.smsc.dropLinks();
    await until(() => esme.linkState !== 'bound');
    const connectionsAtDrop = f.smsc.connections;

    // Six logins meanwhile: their OTPs wait in the ESME's queue.
    const browsers = users.map(() => new Browser(f.url));
    const logins = users.map(async (u, i) => {
      const b = browsers[i] as Browser;
      const page = await b.get('/');
      return b.post('/.simtrust/login', {
        csrf: hidden(page.html, 'csrf'),
        app: 'wiki',
        return_to: '/',
        user_id: u.userId,
        password: PASSWORD,
      });
    });
    await until(() => esme.pending === users.length);
    await new Promise((r) => setTimeout(r, 1500));
    // Exponential backoff (100, 200, 400, 800, 800 ms…): a handful of attempts, not a storm.
    const attempts = f.smsc.connections - connectionsAtDrop;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(8);
    expect(f.smsc.messages.length).toBe(before);

    // The SMSC is back, and throttles the first two submits after the rebind.
    f.smsc.throttleNext(2);
    f.smsc.refuseConnections(false);
    const pages = await Promise.all(logins);
    await until(() => f.smsc.messages.length === before + users.length);
    await until(() => esme.pending === 0);
    await new Promise((r) => setTimeout(r, 300));

    const sent = f.smsc.messages.slice(before);
    expect(sent).toHaveLength(users.length);
    expect(new Set(sent.map((m) => m.destination))).toEqual(new Set(users.map((u) => u.phone.slice(1))));
    expect(f.smsc.submits - submitsBefore).toBe(users.length + 2);
    expect(new Set(sent.map((m) => codeIn(m.text))).size).toBe(users.length);

    // Every user logs in with the code that reached their phone.
    for (const [i, u] of users.entries()) {
      const sms = sent.find((m) => m.destination === u.phone.slice(1));
      const done = await (browsers[i] as Browser).post('/.simtrust/factor', {
        csrf: hidden((pages[i] as { html: string }).html, 'csrf'),
        code: codeIn(sms?.text ?? ''),
      });
      expect(done.html).toContain(`Backend content for ${u.userId}`);
    }
  });
});
