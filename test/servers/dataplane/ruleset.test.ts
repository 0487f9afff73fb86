// The nftables text a VPG becomes. Threats: request text reaching `nft` (a hostile CIDR, port or
// protocol turned into extra commands), a rule set the kernel refuses (overlapping interval
// elements fail the whole transaction, so one bad list would freeze a VPG), and a ruleset that is
// not deny-by-default. Arbitrary rule lists (fast-check) either fail to parse with ERR_VPG_INVALID
// or render to text of a closed character set; as root, `nft -c` (check, in a throwaway namespace)
// accepts every rendered transaction, overlaps included.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimtrustError } from '../../../src/lib/errors.js';
import { parseUplinkRules } from '../../../src/platform/vpg/filter-rules.js';
import type { VpgDesiredState } from '../../../src/platform/vpg/vpg-service.js';
import { namespaceName, renderRuleset, tableName } from '../../../src/servers/dataplane/ruleset.js';
import { hasProgram } from '../../helpers/external.js';

const VPG = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const state = (rules: VpgDesiredState['rules'], devices: number[] = [0x0a4d0002]): VpgDesiredState => ({
  vpgId: VPG,
  operatorId: 'OP1',
  status: 'running',
  deviceSubnet: { base: 0x0a4d0000, prefix: 16 },
  trafficFiltering: true,
  rules,
  deviceAddresses: devices,
});

const SAFE = /^[a-z0-9_ .,\-/{}@;:\n]*$/;

const ipText = fc.oneof(
  fc.string(),
  fc
    .tuple(fc.nat(260), fc.nat(260), fc.nat(260), fc.nat(260), fc.integer({ min: -1, max: 34 }))
    .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`),
  fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '10.1.2.3/32', '0.0.0.0/0', '10.0.0.0/8 }; flush ruleset; {'),
);
const portValue = fc.oneof(fc.integer({ min: 0, max: 65_536 }), fc.constant(undefined), fc.string());
const ruleArb = fc.record(
  {
    ipRange: ipText,
    protocol: fc.oneof(fc.constantFrom('any', 'tcp', 'udp', 'icmp', undefined), fc.string()),
    fromPort: portValue,
    toPort: portValue,
  },
  { requiredKeys: ['ipRange'] },
);
/** Valid rule lists with many overlaps (nested CIDRs, overlapping port ranges). */
const validRules = fc.array(
  fc
    .record({
      net: fc.constantFrom(
        '10.0.0.0/8',
        '10.1.0.0/16',
        '10.1.2.0/24',
        '10.1.2.3/32',
        '192.0.2.0/24',
        '0.0.0.0/0',
      ),
      protocol: fc.constantFrom('any', 'tcp', 'udp', 'icmp'),
      from: fc.integer({ min: 1, max: 65535 }),
      span: fc.nat(3000),
    })
    .map(({ net, protocol, from, span }) =>
      protocol === 'tcp' || protocol === 'udp'
        ? { ipRange: net, protocol, fromPort: from, toPort: Math.min(65535, from + span) }
        : { ipRange: net, protocol },
    ),
  { maxLength: 40 },
);

describe('renderRuleset', () => {
  it('names come from the id only', () => {
    expect(tableName(VPG)).toBe('simtrust_vpg_0f1e2d3c4b5a49688776a5b4c3d2e1f0');
    expect(namespaceName(VPG)).toBe('st-vpg-0f1e2d3c4b5a');
    expect(() => tableName('x; reboot')).toThrow();
  });

  it('is deny-by-default and counts refusals per source', () => {
    const text = renderRuleset(
      state(parseUplinkRules([{ ipRange: '192.0.2.0/24', protocol: 'tcp', fromPort: 443 }])),
    );
    expect(text).toContain('policy drop;');
    expect(text).toContain('192.0.2.0/24 . 443');
    expect(text).toContain('10.77.0.2');
    expect(text).toMatch(/update @refused_src \{ ip saddr \} drop\n$/);
  });

  it('hostile rule lists either fail with ERR_VPG_INVALID or render only safe text', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 8 }), (rules) => {
        let parsed: ReturnType<typeof parseUplinkRules>;
        try {
          parsed = parseUplinkRules(rules);
        } catch (e) {
          expect(e).toBeInstanceOf(SimtrustError);
          expect((e as SimtrustError).code).toBe('ERR_VPG_INVALID');
          return;
        }
        const text = renderRuleset(state(parsed));
        expect(text).toMatch(SAFE);
        expect(text.split('\n').filter((l) => l.startsWith('table ')).length).toBe(1);
      }),
      { numRuns: 2000 },
    );
  });

  const root = process.getuid?.() === 0 && hasProgram('nft') && hasProgram('ip');
  describe.skipIf(!root)('the kernel accepts every rendered transaction (nft -c, root only)', () => {
    const ns = `st-t-rs-${randomBytes(3).toString('hex')}`;
    beforeAll(() => {
      execFileSync('ip', ['netns', 'add', ns]);
    });
    afterAll(() => {
      execFileSync('ip', ['netns', 'del', ns]);
    });
    it('overlapping CIDRs and port ranges are merged, not refused', () => {
      fc.assert(
        fc.property(validRules, fc.boolean(), (rules, filtering) => {
          const text = renderRuleset({ ...state(parseUplinkRules(rules)), trafficFiltering: filtering });
          execFileSync('ip', ['netns', 'exec', ns, 'nft', '-c', '-f', '-'], {
            input: text,
            stdio: ['pipe', 'ignore', 'pipe'],
          });
        }),
        { numRuns: 60 },
      );
    });
  });
});
