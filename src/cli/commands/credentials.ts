// `simtrust credentials …`: credential sets (GET/POST/PUT/DELETE /v1/credentials). Secrets go in
// from files or stdin — never as arguments, which `ps` and shell history would keep — and never come
// out: answers show only the fields a type marks as shown (a user name, an access key id).

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { CredentialSetView } from '../../platform/credentials/credential-sets.js';
import {
  CREDENTIAL_TYPE_NAMES,
  CREDENTIAL_TYPES,
  type CredentialTypeSpec,
  isCredentialType,
} from '../../platform/credentials/credential-types.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';

const COLUMNS: ReadonlyArray<Column<CredentialSetView>> = [
  ['credentialsId', (c) => c.credentialsId],
  ['type', (c) => c.type],
  ['description', (c) => c.description],
  [
    'shown',
    (c) =>
      Object.entries(c.credentials)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
  ],
  ['updated', (c) => new Date(c.updateDateTime).toISOString()],
  ['lastUsed', (c) => (c.lastUsedDateTime === undefined ? '' : new Date(c.lastUsedDateTime).toISOString())],
];

const example = (c: Command, text: string) => c.addHelpText('after', `\nExamples:\n  $ ${text}`);
const collect = (value: string, previous: string[]) => [...previous, value];

interface FieldOptions {
  readonly fromFile: string[];
  readonly set: string[];
  readonly fromStdin?: string;
  readonly credentialsFile?: string;
}

function splitAssignment(option: string, text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new SimtrustError('ERR_CLI_USAGE', `${option} takes FIELD=VALUE (got no "=")`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function fieldSpec(type: string | undefined, name: string): CredentialTypeSpec['fields'][string] | undefined {
  if (type === undefined || !isCredentialType(type)) return undefined;
  const fields: CredentialTypeSpec['fields'] = CREDENTIAL_TYPES[type].fields;
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** A secret in a one-line file or piped in ends with the newline the editor or `echo` added. */
function fieldValue(type: string | undefined, name: string, text: string): string {
  const spec = fieldSpec(type, name);
  // Type unknown (an update by a user who may not list): a PEM keeps its last line break, text not.
  const oneLine = spec === undefined ? !text.includes('-----BEGIN ') : spec.kind === 'text';
  return oneLine ? text.replace(/\r?\n$/, '') : text;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      '--from-stdin reads a pipe or a file: `… --from-stdin key < psk.txt`',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The credentials the options give, or undefined when they give none. */
async function credentialsOf(
  type: string | undefined,
  o: FieldOptions,
): Promise<Record<string, string> | undefined> {
  const fields: Record<string, string> = {};
  let given = false;
  const put = (name: string, value: string, source: string) => {
    if (Object.hasOwn(fields, name))
      throw new SimtrustError('ERR_CLI_USAGE', `field ${name} is given twice (${source})`);
    fields[name] = value;
    given = true;
  };
  if (o.credentialsFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(o.credentialsFile, 'utf8'));
    } catch (e) {
      // The message of a JSON error may quote the file: only say where it is.
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        `--credentials-file ${o.credentialsFile} is not a readable JSON object${(e as NodeJS.ErrnoException).code ? ` (${(e as NodeJS.ErrnoException).code})` : ''}`,
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        `--credentials-file ${o.credentialsFile} must hold a JSON object`,
      );
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== 'string')
        throw new SimtrustError('ERR_CLI_USAGE', `--credentials-file: field ${name} must be a string`);
      put(name, value, '--credentials-file');
    }
    given = true;
  }
  for (const assignment of o.fromFile) {
    const [name, path] = splitAssignment('--from-file', assignment);
    put(name, fieldValue(type, name, readFileSync(path, 'utf8')), '--from-file');
  }
  for (const assignment of o.set) {
    const [name, value] = splitAssignment('--set', assignment);
    const spec = fieldSpec(type, name);
    if (spec === undefined || spec.secret) {
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        `--set is for fields that are not secret (such as username); give ${name} with --from-file ${name}=FILE or --from-stdin ${name}, so it stays out of ps and shell history`,
      );
    }
    put(name, value, '--set');
  }
  if (o.fromStdin !== undefined)
    put(o.fromStdin, fieldValue(type, o.fromStdin, await readStdin()), '--from-stdin');
  return given ? fields : undefined;
}

function fieldOptions(command: Command): Command {
  return command
    .option('--from-file <field=path>', 'read a field from a file (a PEM, a key); repeatable', collect, [])
    .option('--from-stdin <field>', 'read one field from standard input (e.g. a password piped in)')
    .option('--credentials-file <path>', 'read all fields from a JSON object file, as the API takes them')
    .option(
      '--set <field=value>',
      'a field that is not secret (username, accessKeyId …); repeatable',
      collect,
      [],
    );
}

const typesHelp = Object.entries(CREDENTIAL_TYPES)
  .map(
    ([type, spec]) =>
      `  ${type}: ${Object.entries(spec.fields)
        .map(([name, f]) => `${name}${f.required ? '' : '?'}${f.secret ? '' : ' (shown)'}`)
        .join(', ')}`,
  )
  .join('\n');

const idPath = (id: string) => `/v1/credentials/${encodeURIComponent(id)}`;

export function registerCredentialsCommand(program: Command): void {
  const credentials = program
    .command('credentials')
    .description('Manage credential sets (secrets Beam, Funnel and Funk add for devices; never shown again)')
    .addHelpText('after', `\nTypes and their fields:\n${typesHelp}`);

  example(
    credentials.command('list').description('List the credential sets (without their secrets)'),
    'simtrust credentials list --output table',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<CredentialSetView[]>('GET', '/v1/credentials'), COLUMNS);
  });

  example(
    fieldOptions(
      credentials
        .command('create')
        .description('Create a credential set')
        .argument(
          '<credentialsId>',
          'e.g. beam-psk, or device-<IMSI> for a set a `device-#{imsi}` reference finds',
        )
        .requiredOption('--type <type>', CREDENTIAL_TYPE_NAMES.join(' | '))
        .option('--description <text>', 'what the set is for'),
    ),
    [
      'simtrust credentials create beam-psk --type psk --from-file key=./psk.txt',
      '  $ simtrust credentials create device-001010000000001 --type x509 --from-file cert=cert.pem --from-file key=key.pem --from-file ca=ca.pem',
      '  $ pass show broker | simtrust credentials create broker --type username-password-credentials --set username=dev --from-stdin password',
    ].join('\n'),
  ).action(
    async (
      credentialsId: string,
      o: FieldOptions & { type: string; description?: string },
      command: Command,
    ) => {
      if (!isCredentialType(o.type))
        throw new SimtrustError('ERR_CLI_USAGE', `--type must be one of ${CREDENTIAL_TYPE_NAMES.join(', ')}`);
      const fields = await credentialsOf(o.type, o);
      if (fields === undefined) {
        throw new SimtrustError(
          'ERR_CLI_USAGE',
          'give the credentials: --from-file FIELD=FILE, --from-stdin FIELD, --credentials-file FILE or --set FIELD=VALUE (see --help for the fields of each type)',
        );
      }
      const client = await apiClient(command);
      const body = {
        type: o.type,
        credentials: fields,
        ...(o.description === undefined ? {} : { description: o.description }),
      };
      print(
        command,
        await client.request<CredentialSetView>('POST', idPath(credentialsId), { body }),
        COLUMNS,
      );
    },
  );

  example(
    fieldOptions(
      credentials
        .command('update')
        .description('Replace the credentials (all fields) and/or change the description or type')
        .argument('<credentialsId>')
        .option('--type <type>', 'a new type (needs the new credentials)')
        .option('--description <text>', 'a new description'),
    ),
    'simtrust credentials update beam-psk --from-file key=./new-psk.txt',
  ).action(
    async (
      credentialsId: string,
      o: FieldOptions & { type?: string; description?: string },
      command: Command,
    ) => {
      if (o.type !== undefined && !isCredentialType(o.type))
        throw new SimtrustError('ERR_CLI_USAGE', `--type must be one of ${CREDENTIAL_TYPE_NAMES.join(', ')}`);
      const client = await apiClient(command);
      // The fields' kinds (is a one-line value to be trimmed, is --set allowed) follow the set's type.
      // A user allowed to update but not to list does without it.
      const type =
        o.type ??
        (await client.request<CredentialSetView[]>('GET', '/v1/credentials').then(
          (sets) => sets.find((c) => c.credentialsId === credentialsId)?.type,
          () => undefined,
        ));
      const fields = await credentialsOf(type, o);
      const body = {
        ...(o.type === undefined ? {} : { type: o.type }),
        ...(o.description === undefined ? {} : { description: o.description }),
        ...(fields === undefined ? {} : { credentials: fields }),
      };
      if (Object.keys(body).length === 0)
        throw new SimtrustError(
          'ERR_CLI_USAGE',
          'nothing to change: give credentials, --description or --type',
        );
      print(
        command,
        await client.request<CredentialSetView>('PUT', idPath(credentialsId), { body }),
        COLUMNS,
      );
    },
  );

  example(
    credentials.command('delete').description('Delete a credential set'),
    'simtrust credentials delete beam-psk',
  )
    .argument('<credentialsId>')
    .action(async (credentialsId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', idPath(credentialsId));
      process.stdout.write(`deleted ${credentialsId}\n`);
    });
}
