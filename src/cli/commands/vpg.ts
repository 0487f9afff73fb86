// `simtrust vpg …`: virtual private gateways (/v1/virtual_private_gateways, docs/vpg.md) — list,
// get, create, terminate, the uplink allow-list and whether it is enforced.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { VpgView } from '../../platform/vpg/vpg-service.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';

const COLUMNS: ReadonlyArray<Column<VpgView>> = [
  ['vpgId', (v) => v.vpgId],
  ['status', (v) => v.status],
  ['deviceSubnet', (v) => v.deviceSubnetCidrRange],
  ['filtering', (v) => (v.trafficFilteringEnabled ? `on (${v.uplinkFilterRules.length} rules)` : 'off')],
  [
    'tags',
    (v) =>
      Object.entries(v.tags)
        .map(([k, t]) => `${k}=${t}`)
        .join(' '),
  ],
  ['created', (v) => new Date(v.createdTime).toISOString()],
];

const example = (c: Command, text: string) => c.addHelpText('after', `\nExamples:\n  $ ${text}`);
const collect = (value: string, previous: string[]) => [...previous, value];
const vpgPath = (id: string) => `/v1/virtual_private_gateways/${encodeURIComponent(id)}`;

/** `CIDR[,PROTOCOL[,PORT[-PORT]]]` → an uplink rule body; the API checks the values. */
export function parseRuleOption(text: string): Record<string, unknown> {
  const [ipRange = '', protocol, ports, ...rest] = text.split(',');
  if (ipRange === '' || rest.length > 0)
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      `--rule takes CIDR[,PROTOCOL[,PORT[-PORT]]], e.g. 192.0.2.0/24,tcp,443 (got ${JSON.stringify(text.slice(0, 60))})`,
    );
  const rule: Record<string, unknown> = { ipRange };
  if (protocol !== undefined && protocol !== '') rule.protocol = protocol;
  if (ports !== undefined && ports !== '') {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports);
    if (!m)
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        `--rule port must be PORT or FROM-TO (got ${JSON.stringify(ports)})`,
      );
    rule.fromPort = Number(m[1]);
    rule.toPort = Number(m[2] ?? m[1]);
  }
  return rule;
}

export function registerVpgCommand(program: Command): void {
  const vpg = program
    .command('vpg')
    .description('Manage virtual private gateways (closed networks for devices; the data plane needs root)');

  example(vpg.command('list').description('List the VPGs'), 'simtrust vpg list --output table').action(
    async (_o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request<VpgView[]>('GET', '/v1/virtual_private_gateways'), COLUMNS);
    },
  );

  example(
    vpg.command('get').description('Show a VPG').argument('<vpgId>'),
    'simtrust vpg get <vpgId>',
  ).action(async (vpgId: string, _o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<VpgView>('GET', vpgPath(vpgId)), COLUMNS);
  });

  example(
    vpg
      .command('create')
      .description('Create a VPG; point groups at it with SoracomAir.vpgId')
      .option('--device-subnet <cidr>', 'IPv4 network of the devices (default 10.128.0.0/9)')
      .option('--type <n>', 'SORACOM VPG type (14, 15, 16, 17, 20; default 14)')
      .option('--no-internet-gateway', 'useInternetGateway false')
      .option('--tag <name=value>', 'a tag; repeatable', collect, []),
    'simtrust vpg create --device-subnet 10.70.0.0/16 --tag name=factory',
  ).action(
    async (
      o: { deviceSubnet?: string; type?: string; internetGateway: boolean; tag: string[] },
      command: Command,
    ) => {
      const tags: Record<string, string> = {};
      for (const t of o.tag) {
        const at = t.indexOf('=');
        if (at <= 0) throw new SimtrustError('ERR_CLI_USAGE', '--tag takes NAME=VALUE');
        tags[t.slice(0, at)] = t.slice(at + 1);
      }
      if (o.type !== undefined && !/^\d{1,3}$/.test(o.type))
        throw new SimtrustError('ERR_CLI_USAGE', '--type takes a number such as 14');
      const body = {
        ...(o.deviceSubnet === undefined ? {} : { deviceSubnetCidrRange: o.deviceSubnet }),
        ...(o.type === undefined ? {} : { type: Number(o.type) }),
        ...(o.internetGateway ? {} : { useInternetGateway: false }),
        ...(o.tag.length === 0 ? {} : { tags }),
      };
      const client = await apiClient(command);
      print(
        command,
        await client.request<VpgView>('POST', '/v1/virtual_private_gateways', { body }),
        COLUMNS,
      );
    },
  );

  example(
    vpg.command('terminate').description('Terminate a VPG no group uses').argument('<vpgId>'),
    'simtrust vpg terminate <vpgId>',
  ).action(async (vpgId: string, _o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<VpgView>('POST', `${vpgPath(vpgId)}/terminate`), COLUMNS);
  });

  example(
    vpg
      .command('set-uplink-rules')
      .description('Replace the uplink allow-list (everything else a device sends is dropped and counted)')
      .argument('<vpgId>')
      .option('--rule <CIDR[,PROTOCOL[,PORT[-PORT]]]>', 'an allow rule; repeatable', collect, [])
      .option('--rules-file <path>', 'a JSON array of rules as the API takes them')
      .option('--none', 'an empty list (with filtering on: nothing is allowed)')
      .option('--enable', 'also turn traffic filtering on')
      .option('--disable', 'also turn traffic filtering off'),
    [
      'simtrust vpg set-uplink-rules <vpgId> --rule 192.0.2.10/32,tcp,443 --rule 198.51.100.0/24,udp,5000-5010 --enable',
      '  $ simtrust vpg set-uplink-rules <vpgId> --rules-file rules.json',
    ].join('\n'),
  ).action(
    async (
      vpgId: string,
      o: { rule: string[]; rulesFile?: string; none?: boolean; enable?: boolean; disable?: boolean },
      command: Command,
    ) => {
      if (o.enable && o.disable)
        throw new SimtrustError('ERR_CLI_USAGE', 'give --enable or --disable, not both');
      let rules: unknown[] = o.rule.map(parseRuleOption);
      if (o.rulesFile !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(o.rulesFile, 'utf8'));
        } catch (e) {
          throw new SimtrustError(
            'ERR_CLI_USAGE',
            `--rules-file ${o.rulesFile} is not a readable JSON array (${(e as NodeJS.ErrnoException).code ?? 'bad JSON'})`,
          );
        }
        if (!Array.isArray(parsed))
          throw new SimtrustError('ERR_CLI_USAGE', '--rules-file must hold a JSON array');
        rules = [...rules, ...parsed];
      }
      if (rules.length === 0 && !o.none)
        throw new SimtrustError('ERR_CLI_USAGE', 'give --rule, --rules-file, or --none for an empty list');
      const client = await apiClient(command);
      let view = await client.request<VpgView>('PUT', `${vpgPath(vpgId)}/traffic_filtering/uplink_rules`, {
        body: { rules },
      });
      if (o.enable || o.disable) {
        await client.request(
          'POST',
          `${vpgPath(vpgId)}/traffic_filtering/${o.enable ? 'enable' : 'disable'}`,
        );
        view = await client.request<VpgView>('GET', vpgPath(vpgId));
      }
      print(command, view, COLUMNS);
    },
  );
}
