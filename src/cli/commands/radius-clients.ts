// `simtrust radius-clients …`: the NAS clients (packet gateways, Wi-Fi access points) the RADIUS
// server answers. Secrets go in, never come out.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { RadiusClientView } from '../../platform/aaa/radius-clients.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';

const COLUMNS: ReadonlyArray<Column<RadiusClientView>> = [
  ['clientId', (c) => c.clientId],
  ['name', (c) => c.name],
  ['address', (c) => c.address],
  ['coaPort', (c) => c.coaPort],
  ['requireMessageAuthenticator', (c) => c.requireMessageAuthenticator],
];

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);

/** --secret, or --secret-file (first line), so the secret need not appear in `ps` or shell history. */
function secretOf(o: { secret?: string; secretFile?: string }, required: boolean): string | undefined {
  if (o.secret !== undefined && o.secretFile !== undefined)
    throw new SimtrustError('ERR_CLI_USAGE', 'give --secret or --secret-file, not both');
  if (o.secretFile !== undefined) return readFileSync(o.secretFile, 'utf8').split(/\r?\n/)[0];
  if (o.secret === undefined && required)
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      'the shared secret is required: --secret S or --secret-file FILE',
    );
  return o.secret;
}

function port(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new SimtrustError('ERR_CLI_USAGE', '--coa-port must be 1-65535');
  return n;
}

export function registerRadiusClientsCommand(program: Command): void {
  const clients = program
    .command('radius-clients')
    .description('Manage the NAS clients of the RADIUS server (address or network + shared secret)');

  example(
    clients.command('list').description('List NAS clients'),
    'simtrust radius-clients list --output table',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<RadiusClientView[]>('GET', '/v1/radius_clients'), COLUMNS);
  });

  example(
    clients.command('add').description('Register a NAS client'),
    'simtrust radius-clients add 127.0.0.1 --secret testing-secret --name pgw-1',
  )
    .argument('<address>', 'IPv4 address or network (CIDR) the NAS sends from')
    .option('--secret <secret>', 'shared secret (8-128 bytes)')
    .option('--secret-file <file>', 'read the shared secret from the first line of FILE')
    .option('--name <name>', 'a name for logs (default: the address)')
    .option('--coa-port <port>', 'UDP port the NAS takes Disconnect/CoA requests on (default 3799)')
    .option('--no-require-message-authenticator', 'accept Access-Requests without Message-Authenticator')
    .action(
      async (
        address: string,
        o: {
          secret?: string;
          secretFile?: string;
          name?: string;
          coaPort?: string;
          requireMessageAuthenticator: boolean;
        },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const coaPort = port(o.coaPort);
        const body = {
          address,
          secret: secretOf(o, true),
          requireMessageAuthenticator: o.requireMessageAuthenticator,
          ...(o.name === undefined ? {} : { name: o.name }),
          ...(coaPort === undefined ? {} : { coaPort }),
        };
        print(
          command,
          await client.request<RadiusClientView>('POST', '/v1/radius_clients', { body }),
          COLUMNS,
        );
      },
    );

  example(
    clients.command('update').description('Change a NAS client (e.g. rotate its secret)'),
    'simtrust radius-clients update <clientId> --secret-file ./new-secret',
  )
    .argument('<clientId>')
    .option('--secret <secret>', 'new shared secret')
    .option('--secret-file <file>', 'read the new shared secret from the first line of FILE')
    .option('--name <name>', 'new name')
    .option('--coa-port <port>', 'new CoA port')
    .option('--require-message-authenticator <bool>', 'true or false')
    .action(
      async (
        clientId: string,
        o: {
          secret?: string;
          secretFile?: string;
          name?: string;
          coaPort?: string;
          requireMessageAuthenticator?: string;
        },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const secret = secretOf(o, false);
        const coaPort = port(o.coaPort);
        const require = o.requireMessageAuthenticator;
        if (require !== undefined && require !== 'true' && require !== 'false')
          throw new SimtrustError('ERR_CLI_USAGE', '--require-message-authenticator must be true or false');
        const body = {
          ...(secret === undefined ? {} : { secret }),
          ...(o.name === undefined ? {} : { name: o.name }),
          ...(coaPort === undefined ? {} : { coaPort }),
          ...(require === undefined ? {} : { requireMessageAuthenticator: require === 'true' }),
        };
        if (Object.keys(body).length === 0) throw new SimtrustError('ERR_CLI_USAGE', 'nothing to change');
        print(
          command,
          await client.request<RadiusClientView>(
            'PUT',
            `/v1/radius_clients/${encodeURIComponent(clientId)}`,
            { body },
          ),
          COLUMNS,
        );
      },
    );

  example(
    clients.command('delete').description('Remove a NAS client'),
    'simtrust radius-clients delete <clientId>',
  )
    .argument('<clientId>')
    .action(async (clientId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', `/v1/radius_clients/${encodeURIComponent(clientId)}`);
      process.stdout.write(`deleted ${clientId}\n`);
    });
}
