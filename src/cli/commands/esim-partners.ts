// `simtrust esim partners add|list|remove`: the SGP.02 partners of this deployment (SM-DPs, SM-SRs,
// operators, EUMs we exchange ES messages with over mutual TLS) on the configured database directly,
// like the PKI's `esim ci` commands: who may call our SOAP listener is the deployment
// administrator's decision, not a tenant token's. A running `simtrust serve` picks changes up at its
// next partners refresh (esim soap listener); a removed partner is refused from then on.

import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { systemClock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { EsimPartners, PartnerView } from '../../platform/esim/partners/partners-registry.js';
import { PARTNER_ROLES } from '../../platform/esim/partners/partners-registry.js';
import { print } from '../context.js';
import type { Column } from '../output.js';
import { configFromFlags } from './serve.js';

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);
const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);

const COLUMNS: ReadonlyArray<Column<PartnerView>> = [
  ['partnerId', (p) => p.partnerId],
  ['role', (p) => p.role],
  ['entityId', (p) => p.entityId],
  ['endpoint', (p) => p.endpoint],
  ['subject', (p) => p.subject],
  ['notAfter', (p) => new Date(p.notAfter).toISOString()],
  ['fingerprint', (p) => p.fingerprint],
];

const withDatabase = (c: Command) =>
  c
    .option('--config <file>', 'JSON config file (default $SIMTRUST_CONFIG)')
    .option('--database-url <url>', 'database (default $SIMTRUST_DATABASE_URL or sqlite:./data/simtrust.db)')
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .option('--demo', 'the demo deployment (as `simtrust up --demo`)')
    .option(
      '--operator-id <id>',
      "the operator whose partners these are (default: the platform's own, '')",
      '',
    );

async function withPartners<T>(o: Record<string, unknown>, run: (p: EsimPartners) => Promise<T>): Promise<T> {
  const config = configFromFlags(o, o.demo === true);
  const { openStore } = await import('../../platform/store/database.js');
  const { EsimPartners } = await import('../../platform/esim/partners/partners-registry.js');
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    return await run(new EsimPartners(store, systemClock));
  } finally {
    await store.close();
  }
}

export function registerEsimPartnerCommands(esim: Command): void {
  const partners = esim
    .command('partners')
    .description(
      'SGP.02 partners: the SM-DPs, SM-SRs, operators and EUMs this deployment exchanges ES1-ES4 messages with over mutual TLS (pinned certificates)',
    );

  example(
    withDatabase(
      partners
        .command('add')
        .description(
          'Add a partner: its entity id, role, SOAP endpoint and TLS certificate (pinned: only this certificate authenticates it, and only its endpoint gets our calls and responses)',
        )
        .requiredOption('--entity-id <oid>', 'its entity id (OID), e.g. 1.3.6.1.4.1.99999.1.2')
        .addOption(
          new Option('--role <role>', 'what it is to us').choices([...PARTNER_ROLES]).makeOptionMandatory(),
        )
        .requiredOption('--soap-url <url>', 'its SOAP listener (the endpoint), https://host:port/path')
        .requiredOption('--certificate <file>', 'PEM file of its TLS certificate (its own, not a CA)'),
    ),
    'simtrust esim partners add --role sm-sr --entity-id 1.3.6.1.4.1.99999.1.2 --soap-url https://sm-sr.example:8443/esim/soap --certificate sm-sr.pem',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    let pem: string;
    try {
      pem = readFileSync(o.certificate as string, 'utf8');
    } catch (e) {
      throw usage(`cannot read ${String(o.certificate)}: ${(e as Error).message}`);
    }
    const view = await withPartners(o, (p) =>
      p.add({
        operatorId: o.operatorId as string,
        entityId: o.entityId as string,
        role: o.role as string,
        endpoint: o.soapUrl as string,
        certificatePem: pem,
      }),
    );
    print(command, view, COLUMNS);
  });

  example(
    withDatabase(partners.command('list').description('The partners, by entity id and role')),
    'simtrust esim partners list --output table',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const list = await withPartners(o, (p) => p.list(o.operatorId as string));
    print(command, list, COLUMNS);
  });

  example(
    withDatabase(
      partners
        .command('remove')
        .description(
          'Remove a partner by its partner id, or every role of an entity id; refused by the listener from then on',
        )
        .argument('<partner>', 'partner id (EP-…) or entity id'),
    ),
    'simtrust esim partners remove 1.3.6.1.4.1.99999.1.2',
  ).action(async (partner: string, o: Record<string, unknown>, command: Command) => {
    const removed = await withPartners(o, (p) => p.remove(o.operatorId as string, partner));
    print(command, removed, COLUMNS);
  });
}
