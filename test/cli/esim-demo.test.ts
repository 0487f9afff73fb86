// `simtrust esim demo` (docs/esim.md §Demo): Figure 5 in a child process on a temporary SQLite
// database — the eUICC attached with profile A, profile B downloaded and enabled through the real
// SM-DP and SM-SR, REFRESH, attach with B's IMSI (the card answers the platform's AuC vector), the
// change notified and confirmed. The JSON form lists the steps in order; the narrated form ends with
// the device attached as B. No timing is asserted; the test's own timeout only bounds a hang.

import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

interface Step {
  n: number;
  actor: string;
  step: string;
  detail: string;
}

interface DemoJson {
  eid: string;
  profileA: { iccid: string; imsi: string };
  profileB: { iccid: string; imsi: string };
  attachedImsi: string;
  downloadStatus: string;
  steps: Step[];
}

/** The index of the first step named `name` after `from`; -1 when there is none. */
const stepAfter = (steps: readonly Step[], name: string, from = -1) =>
  steps.findIndex((s, i) => i > from && s.step === name);

describe('simtrust esim demo', () => {
  it('--output json: the steps of Figure 5 in order, ending attached as profile B', {
    timeout: 120_000,
  }, async () => {
    const r = await runCli(['--output', 'json', 'esim', 'demo']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const demo = JSON.parse(r.stdout) as DemoJson;
    expect(demo.eid).toMatch(/^89\d{30}$/);
    expect(demo.downloadStatus).toBe('EXECUTED_SUCCESS');
    expect(demo.profileB.imsi).not.toBe(demo.profileA.imsi);
    expect(demo.attachedImsi).toBe(demo.profileB.imsi);
    expect(demo.steps.map((s) => s.n)).toEqual(demo.steps.map((_, i) => i + 1));

    // The figure's order: attached as A, ordering, GetEIS, CreateISDP, key establishment, download,
    // enable, REFRESH, attached as B, notification, its confirmation, the operator told.
    const s = demo.steps;
    const attachedA = stepAfter(s, `attached as IMSI ${demo.profileA.imsi}`);
    const order = stepAfter(s, 'ES2.DownloadProfile', attachedA);
    const getEis = stepAfter(s, 'GetEIS', order);
    const ecasd = stepAfter(s, 'VerifyECASDCertificate', getEis);
    const createIsdp = stepAfter(s, 'CreateISDP', ecasd);
    const keyCert = stepAfter(s, 'EstablishISDPKeySet:certificate', createIsdp);
    const keyAgreement = stepAfter(s, 'EstablishISDPKeySet:keyAgreement', keyCert);
    const download = stepAfter(s, 'DownloadAndInstallation', keyAgreement);
    const completed = stepAfter(s, 'ProfileDownloadCompleted', download);
    const enable = stepAfter(s, 'EnableProfile', completed);
    const refresh = stepAfter(s, 'REFRESH', enable);
    const attachedB = stepAfter(s, `attached as IMSI ${demo.profileB.imsi}`, refresh);
    const notification = stepAfter(s, 'default notification', attachedB);
    const confirmed = stepAfter(s, 'notification confirmed', notification);
    const operatorTold = stepAfter(s, 'ES2 notification', notification);
    const answered = stepAfter(s, 'DownloadProfile answered', operatorTold);
    for (const [name, i] of Object.entries({
      attachedA,
      order,
      getEis,
      ecasd,
      createIsdp,
      keyCert,
      keyAgreement,
      download,
      completed,
      enable,
      refresh,
      attachedB,
      notification,
      confirmed,
      operatorTold,
      answered,
    }))
      expect(i, name).toBeGreaterThanOrEqual(0);
    expect(s[attachedA]?.actor).toBe('device');
    expect(s[notification]?.detail).toContain('PROFILE_CHANGE_SUCCEEDED');
    expect(s[operatorTold]?.detail).toContain(demo.profileB.iccid);
    expect(s[answered]?.detail).toBe('EXECUTED_SUCCESS');
    // No step leaks a key: apart from the EID (32 digits) nothing of 32 hex digits in a row (Ki, OPc,
    // key sets, the ECASD private key).
    expect(r.stdout.replaceAll(demo.eid, '')).not.toMatch(/[0-9a-fA-F]{32}/);
  });

  it('narrates each step as it happens by default and ends attached as B', { timeout: 120_000 }, async () => {
    const r = await runCli(['esim', 'demo']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ 1\. \[platform\] PKI — CI /);
    expect(r.stdout).toMatch(/\d+\. \[eUICC\] REFRESH — /);
    const last = lines[lines.length - 1] ?? '';
    const imsiB = /attached as IMSI (\d{15}) \(profile B/.exec(last)?.[1];
    expect(imsiB).toBeDefined();
    expect(r.stdout).toContain(`[device] attached as IMSI ${imsiB} — `);
    expect(last).toContain('DownloadProfile: EXECUTED_SUCCESS');
  });
});
