// TOTP as the gateway's second factor, with codes made by oathtool (RFC 6238, Debian `oathtool`)
// from the secret the Directory API handed out; the user chooses between SMS and TOTP when the
// policy allows both. A TOTP code works once.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import {
  Browser,
  type GatewayFixture,
  hidden,
  PASSWORD,
  startGatewayFixture,
} from '../servers/gateway/fixture.js';

const ok = requirePrograms({ oathtool: 'oathtool' });

describe.skipIf(!ok)('gateway TOTP factor with oathtool', () => {
  let f: GatewayFixture;
  let secret: string;

  beforeAll(async () => {
    f = await startGatewayFixture({
      applications: ({ directoryId, upstream }) => [
        {
          name: 'crm',
          prefix: '/',
          upstream,
          users: { directory: directoryId },
          policy: [{ groups: ['staff'], factors: ['totp', 'sms-otp'] }],
          websocket: false,
          stripPrefix: false,
          audience: 'crm',
        },
      ],
    });
    ({ secret } = await f.platform.directories.enableTotp(f.admin, f.directoryId, 'alice', 'simtrust'));
  });
  afterAll(async () => {
    await f?.close();
  });

  const oathtool = () => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();

  async function toFactorPage() {
    const browser = new Browser(f.url);
    const login = await browser.get('/deals');
    const choose = await browser.post('/.simtrust/login', {
      csrf: hidden(login.html, 'csrf'),
      app: 'crm',
      return_to: hidden(login.html, 'return_to'),
      user_id: 'alice',
      password: PASSWORD,
    });
    expect(choose.url).toMatch(/\/\.simtrust\/choose$/);
    expect(choose.html).toContain('A code from your authenticator app');
    expect(choose.html).toContain('A code by SMS to +81…78');
    const page = await browser.post('/.simtrust/choose', {
      csrf: hidden(choose.html, 'csrf'),
      factor: 'totp',
    });
    expect(page.html).toContain('Enter the code from your authenticator app');
    return { browser, page };
  }

  it('accepts the code oathtool computes, once', async () => {
    const { browser, page } = await toFactorPage();
    const code = oathtool();
    const done = await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    expect(done.url).toBe(`${f.url}/deals`);
    expect(done.html).toContain('Backend content for alice');
    expect(f.upstream.requests.at(-1)?.headers['x-simtrust-user']).toBe('alice');

    // Threat: a TOTP code seen over a shoulder, used again within its 30 s window.
    const second = await toFactorPage();
    const replay = await second.browser.post('/.simtrust/factor', {
      csrf: hidden(second.page.html, 'csrf'),
      code,
    });
    expect(replay.status).toBe(401);
    expect(replay.html).toContain('incorrect or was already used');
  });

  it('refuses a code of another secret', async () => {
    const { browser, page } = await toFactorPage();
    const other = execFileSync('oathtool', ['--totp', '-b', 'JBSWY3DPEHPK3PXP'], { encoding: 'utf8' }).trim();
    const r = await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code: other });
    expect(r.status).toBe(401);
  });
});
