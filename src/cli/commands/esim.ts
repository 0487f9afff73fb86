// `simtrust esim …`: M2M eSIM (SGP.02). The PKI commands (`esim ci …`, `esim certs …`) work on the
// configured database directly, like `simtrust admin …`: the CI is the deployment's trust root,
// held by its administrator (with the master key), not something a tenant's API token may create or
// use. SM-DP / SM-SR certificates are issued for an operator named with --operator-id.
// Other eSIM commands (profiles, operations, demo) register under the same `esim` command.

import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { systemClock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { CertificateView, CiView, IssuedRole } from '../../platform/esim/ci/pki-service.js';
import { print } from '../context.js';
import type { Column } from '../output.js';
import { registerEsimDemoCommand } from './esim-demo.js';
import { registerEsimNotificationCommands } from './esim-notifications.js';
import { registerEsimPartnerCommands } from './esim-partners.js';
import { registerEsimProfileCommands } from './esim-profiles.js';
import { configFromFlags } from './serve.js';

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);
const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);
const iso = (ms: number) => new Date(ms).toISOString();

const CI_COLUMNS: ReadonlyArray<Column<CiView>> = [
  ['ciId', (c) => c.ciId],
  ['origin', (c) => c.origin],
  ['canIssue', (c) => c.canIssue],
  ['subject', (c) => c.subject],
  ['keyId', (c) => c.keyId],
  ['notAfter', (c) => iso(c.notAfter)],
];

const CERT_COLUMNS: ReadonlyArray<Column<CertificateView>> = [
  ['certId', (c) => c.certId],
  ['role', (c) => c.role],
  ['operatorId', (c) => c.operatorId || '(platform)'],
  ['subject', (c) => c.subject],
  ['format', (c) => c.format],
  ['notAfter', (c) => (c.pending ? '(pending request)' : iso(c.notAfter))],
  ['keyId', (c) => c.keyId],
];

const withDatabase = (c: Command) =>
  c
    .option('--config <file>', 'JSON config file (default $SIMTRUST_CONFIG)')
    .option('--database-url <url>', 'database (default $SIMTRUST_DATABASE_URL or sqlite:./data/simtrust.db)')
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .option('--demo', 'use the demo master key in <dataDir>/master.key (as `simtrust up --demo` does)');

/** Opens the store and the key ring (master key from SIMTRUST_MASTER_KEY or the demo key file). */
async function withPki<T>(
  o: Record<string, unknown>,
  run: (pki: import('../../platform/esim/ci/pki-service.js').EsimPki) => Promise<T>,
): Promise<T> {
  const config = configFromFlags(o, o.demo === true);
  const { resolveMasterKey } = await import('../../platform/secrets/master-key.js');
  const masterKey = resolveMasterKey(config).key;
  const { openStore } = await import('../../platform/store/database.js');
  const { KeyRing } = await import('../../platform/secrets/key-ring.js');
  const { EsimPki } = await import('../../platform/esim/ci/pki-service.js');
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    const keyRing = await KeyRing.open(store, masterKey);
    return await run(new EsimPki(store, keyRing, systemClock));
  } finally {
    await store.close();
  }
}

function days(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || !Number.isSafeInteger(n) || n < 1)
    throw usage('--validity-days must be a whole number of days');
  return n;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Hex text of a file (whitespace allowed) as bytes. */
function hexOf(text: string, flag: string): Uint8Array {
  const t = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(t)) throw usage(`${flag} must be a file of hex text (as --pem prints it)`);
  return new Uint8Array(Buffer.from(t, 'hex'));
}

/** With --pem: only the certificate text, so it can go straight to a file or `openssl`. */
function printPem(pem: string): void {
  process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
}

export function registerEsimCommand(program: Command): Command {
  const esim = program
    .command('esim')
    .description(
      'M2M eSIM (GSMA SGP.02): the PKI (CI, EUM, SM-DP and SM-SR certificates), eUICC SIMs, profiles and their operations (docs/esim.md)',
    );
  registerEsimPkiCommands(esim);
  registerEsimProfileCommands(esim);
  registerEsimDemoCommand(esim);
  registerEsimPartnerCommands(esim);
  registerEsimNotificationCommands(esim);
  return esim;
}

function registerEsimPkiCommands(esim: Command): void {
  const ci = esim
    .command('ci')
    .description("The deployment's Certificate Issuer (CI), the root every eUICC trusts");

  example(
    withDatabase(
      ci
        .command('init')
        .description(
          'Create the CI: a P-256 key (sealed with the master key) and its self-signed X.509 root. Refused when a CI with a key exists',
        )
        .option('--name <dn>', 'subject of the root', 'CN=simtrust eSIM CI,O=simtrust')
        .option('--validity-days <n>', 'validity of the root (default 7300)'),
    ),
    'SIMTRUST_MASTER_KEY=$(cat master.key) simtrust esim ci init --output table',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const view = await withPki(o, (pki) =>
      pki.initCi({ name: o.name as string, validityDays: days(o.validityDays) ?? 7300 }),
    );
    print(command, view, CI_COLUMNS);
  });

  example(
    withDatabase(
      ci
        .command('import')
        .description(
          'Trust an external CI (production: the GSMA CI) by its self-signed X.509 certificate, without its key',
        )
        .requiredOption('--certificate <file>', 'PEM or DER file of the CI certificate'),
    ),
    'simtrust esim ci import --certificate gsma-ci.pem',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    let data: Buffer;
    try {
      data = readFileSync(o.certificate as string);
    } catch (e) {
      throw usage(`cannot read ${String(o.certificate)}: ${(e as Error).message}`);
    }
    const text = data.toString('latin1');
    const view = await withPki(o, (pki) =>
      pki.importCi(text.includes('-----BEGIN') ? text : new Uint8Array(data)),
    );
    print(command, view, CI_COLUMNS);
  });

  example(
    withDatabase(
      ci
        .command('show')
        .description('The trusted CIs (never a private key); --pem prints the certificates only')
        .option('--pem', 'print the PEM certificates, e.g. for `openssl verify -CAfile`'),
    ),
    'simtrust esim ci show --pem > ci.pem',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const cis = await withPki(o, (pki) => pki.listCis());
    if (cis.length === 0)
      throw new SimtrustError('ERR_ESIM_NO_CI', 'this deployment has no CI; run `simtrust esim ci init`');
    if (o.pem === true) printPem(cis.map((c) => c.certificate.trim()).join('\n'));
    else print(command, cis, CI_COLUMNS);
  });

  const certs = esim
    .command('certs')
    .description('Certificates issued under the CI (EUM, SM-DP, SM-SR, eUICC)');

  example(
    withDatabase(
      certs
        .command('issue')
        .description(
          'Issue a certificate with a new P-256 key (sealed): EUM (X.509, signs eUICC certificates), SM-DP or SM-SR (GlobalPlatform 7F21)',
        )
        .addOption(
          new Option('--role <role>', 'what it certifies')
            .choices(['sm-dp', 'sm-sr', 'eum'])
            .makeOptionMandatory(),
        )
        .requiredOption(
          '--entity-id <oid>',
          'the entity id (OID) of the ES messages, e.g. 1.3.6.1.4.1.99999.1.1',
        )
        .option(
          '--operator-id <id>',
          'owning operator (required for sm-dp and sm-sr; an EUM without it belongs to the platform)',
        )
        .option('--name <dn>', 'X.509 subject of an EUM (default "CN=EUM <entity-id>,O=simtrust")')
        .option('--validity-days <n>', 'validity (default: EUM 3650, SM-DP/SM-SR 1825; never past the CI)')
        .option('--pem', 'print only the certificate: PEM for an EUM, hex for a GP certificate'),
    ),
    'simtrust esim certs issue --role sm-dp --operator-id OP0012345678 --entity-id 1.3.6.1.4.1.99999.1.1',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const role = o.role as IssuedRole;
    if (role !== 'eum' && typeof o.operatorId !== 'string')
      throw usage(`--operator-id is required for --role ${role}`);
    const view = await withPki(o, (pki) =>
      pki.issue({
        role,
        operatorId: typeof o.operatorId === 'string' ? o.operatorId : '',
        entityId: o.entityId as string,
        name: o.name as string | undefined,
        validityDays: days(o.validityDays),
      }),
    );
    if (o.pem === true) printPem(view.certificate);
    else print(command, view, CERT_COLUMNS);
  });

  example(
    withDatabase(
      certs
        .command('request')
        .description(
          "Request this deployment's SM-DP or SM-SR certificate from a CI held elsewhere (`esim ci import` trusts it): a P-256 key made and sealed here, and a request signed by that key for the CI holder's `esim certs sign`",
        )
        .addOption(
          new Option('--role <role>', 'what it certifies').choices(['sm-dp', 'sm-sr']).makeOptionMandatory(),
        )
        .requiredOption('--operator-id <id>', 'owning operator')
        .requiredOption(
          '--entity-id <oid>',
          'the entity id (OID) of the ES messages, e.g. 1.3.6.1.4.1.99999.2.2',
        )
        .option('--pem', 'print only the request (hex), for a file'),
    ),
    'simtrust esim certs request --role sm-sr --operator-id OP0012345678 --entity-id 1.3.6.1.4.1.99999.2.2 --pem > sm-sr.req',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const r = await withPki(o, (pki) =>
      pki.requestCertificate({
        role: o.role as 'sm-dp' | 'sm-sr',
        operatorId: o.operatorId as string,
        entityId: o.entityId as string,
      }),
    );
    if (o.pem === true) printPem(r.request);
    else print(command, { ...r.view, request: r.request }, CERT_COLUMNS);
  });

  example(
    withDatabase(
      certs
        .command('sign')
        .description(
          "At the CI holder: answer another deployment's certificate request (`esim certs request`) with an SM-DP or SM-SR certificate under this deployment's CI; the request must be signed by its own key",
        )
        .requiredOption('--request <file>', 'the request (hex, as `esim certs request --pem` printed it)')
        .option('--validity-days <n>', 'validity (default 1825; never past the CI)')
        .option('--pem', 'print only the certificate (hex), for `esim certs import`'),
    ),
    'simtrust esim certs sign --request sm-sr.req --pem > sm-sr.cert',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const text = readText(o.request as string);
    const bytes = hexOf(text, '--request');
    const signed = await withPki(o, (pki) => pki.signRequest(bytes, { validityDays: days(o.validityDays) }));
    if (o.pem === true) printPem(signed.certificate);
    else print(command, signed);
  });

  example(
    withDatabase(
      certs
        .command('import')
        .description(
          "Import a certificate issued elsewhere, verified under the trusted CIs: the CI's answer to this deployment's request (GP hex: the operator's SM-DP or SM-SR identity from then on), or an EUM's X.509 certificate (PEM, with --entity-id: EISs it signed are accepted, e.g. from a partner SM-SR)",
        )
        .requiredOption('--certificate <file>', 'GP certificate (hex) or EUM certificate (PEM)')
        .option('--entity-id <oid>', "an EUM's entity id (the Eum-id its EISs carry)"),
    ),
    'simtrust esim certs import --certificate sm-sr.cert',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const text = readText(o.certificate as string);
    const input = text.includes('-----BEGIN') ? text : hexOf(text, '--certificate');
    const view = await withPki(o, (pki) =>
      pki.importCertificate(input, {
        entityId: typeof o.entityId === 'string' ? o.entityId : undefined,
      }),
    );
    print(command, view, CERT_COLUMNS);
  });

  example(
    withDatabase(
      certs
        .command('list')
        .description('Issued certificates, newest first (never a private key)')
        .option('--operator-id <id>', "only this operator's ('' for the platform's)")
        .addOption(new Option('--role <role>', 'only this role').choices(['sm-dp', 'sm-sr', 'eum', 'ecasd']))
        .option('--limit <n>', 'how many', '1000'),
    ),
    'simtrust esim certs list --role sm-dp --output table',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const list = await withPki(o, (pki) =>
      pki.list({
        operatorId: typeof o.operatorId === 'string' ? o.operatorId : undefined,
        role: o.role as CertificateView['role'] | undefined,
        limit: Number(o.limit) || 1000,
      }),
    );
    print(command, list, CERT_COLUMNS);
  });
}
