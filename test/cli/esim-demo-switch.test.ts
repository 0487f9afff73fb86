// `simtrust esim demo --switch` (issue 16): the seed's story in a child process — two deployments,
// the roaming device, the switch through operator 1's API. The JSON form lists what was seen: Figure
// 4's steps ①–⑥ and Figure 5's i–ix, each once, the SM-SR change's before the download's, each
// figure's steps in the order the protocol forces (① before ②, ② before ③, the commit ⑤ before
// FinaliseISDRhandover ④, ⑥ last of the change; i … ix in order), and the outcome: the switch
// succeeded, operator 2's SM-SR manages the eUICC, the device is attached at home with operator 2's
// IMSI, and operator 1 is refused. No timing is asserted; the test's timeout only bounds a hang.

import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

interface Step {
  n: number;
  mark: string;
  actor: string;
  step: string;
  detail: string;
  atMs: number;
}

interface Demo {
  eid: string;
  profileA: { iccid: string; imsi: string };
  profileB: { iccid: string; imsi: string };
  operation: { status: string; steps: { name: string; state: string }[] };
  managedBy: string;
  attachedImsi: string;
  roaming: boolean;
  steps: Step[];
}

describe('simtrust esim demo --switch', () => {
  it('--output json: Figure 4 ①–⑥ then Figure 5 i–ix, ending at home with operator 2', {
    timeout: 300_000,
  }, async () => {
    const r = await runCli(['--output', 'json', 'esim', 'demo', '--switch']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const demo = JSON.parse(r.stdout) as Demo;
    expect(demo.operation.status).toBe('succeeded');
    expect(demo.managedBy).toBe('2.999.16.3.2');
    expect(demo.attachedImsi).toBe(demo.profileB.imsi);
    expect(demo.profileB.imsi.startsWith('310410')).toBe(true);
    expect(demo.profileA.imsi.startsWith('44010')).toBe(true);
    expect(demo.roaming).toBe(false);
    expect(demo.steps.map((s) => s.n)).toEqual(demo.steps.map((_, i) => i + 1));

    const at = (mark: string) => {
      const found = demo.steps.filter((s) => s.mark === mark);
      expect(found, `step ${mark} once`).toHaveLength(1);
      return demo.steps.indexOf(found[0] as Step);
    };
    const [f1, f2, f3, f4, f5, f6] = ['①', '②', '③', '④', '⑤', '⑥'].map(at) as number[];
    const fig5 = ['i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii', 'viii', 'ix'].map(at);
    expect(f1).toBeLessThan(f2 as number);
    expect(f2).toBeLessThan(f3 as number);
    expect(f3).toBeLessThan(f5 as number);
    expect(f5).toBeLessThan(f4 as number);
    expect(fig5).toEqual([...fig5].sort((a, b) => a - b));
    // The download starts once SM-SR2 manages the eUICC.
    expect(f4).toBeLessThan(fig5[0] as number);
    expect(f6).toBeGreaterThan(f5 as number);
    // Before the switch the device roamed with operator 1's IMSI; after it, at home with operator 2's.
    const attached = demo.steps.filter((s) => s.actor === 'device').map((s) => s.step);
    expect(attached).toEqual([
      `attached as IMSI ${demo.profileA.imsi}, roaming`,
      `attached as IMSI ${demo.profileB.imsi}, at home`,
    ]);
    expect(demo.steps.find((s) => s.step === 'addresses the eUICC')?.detail).toMatch(
      /409 ERR_ESIM_HANDED_OVER/,
    );
    // Times: since the switch was asked for, never going backwards once it was.
    const after = demo.steps.slice(demo.steps.findIndex((s) => s.step.includes('switch_operator')));
    expect(after.every((s, i) => i === 0 || s.atMs >= (after[i - 1] as Step).atMs)).toBe(true);
  });
});
