// `simtrust endorse …`: SIM-attested identity tokens. Key management goes through the API (with the
// profile's credentials) and concerns the caller's own operator's keys only; `token` and `challenge`
// speak to the device listener as a device would; `verify` checks a token offline with the SDK
// against an operator's JWKS URL and issuer.

import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { SigningKeyView } from '../../platform/endorse/signing-keys.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';
import { operatorPath } from './users.js';

const KEY_COLUMNS: ReadonlyArray<Column<SigningKeyView>> = [
  ['kid', (k) => k.kid],
  ['alg', (k) => k.alg],
  ['state', (k) => k.state],
  ['activates', (k) => new Date(k.activatesTime).toISOString()],
  ['unpublish', (k) => (k.unpublishTime === null ? '' : new Date(k.unpublishTime).toISOString())],
  ['compatKid', (k) => k.compatKid],
];

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);
const DEFAULT_DEVICE_URL = 'http://127.0.0.1:8082';

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);

/** The device listener's answer as JSON, or its `{code, message}` as an error. */
async function deviceCall(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'manual' });
  } catch (e) {
    throw new SimtrustError('ERR_API', `cannot reach ${url}: ${(e as Error).cause ?? e}`);
  }
  if (res.status === 302) return { location: res.headers.get('location') };
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new SimtrustError(
      'ERR_API',
      `${String(body.message ?? res.statusText)} (${String(body.code ?? res.status)})`,
    );
  return body;
}

export function registerEndorseCommand(program: Command): void {
  const endorse = program
    .command('endorse')
    .description('SIM-attested identity tokens: signing keys, tokens, AKA challenges, verification');
  const keys = endorse
    .command('keys')
    .description("Your operator's token signing keys (each operator has its own; docs/endorse.md)");

  example(
    keys.command('list').description("List your operator's published signing keys and their state"),
    'simtrust endorse keys list --output table',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<SigningKeyView[]>('GET', '/v1/endorse/keys'), KEY_COLUMNS);
  });

  example(
    keys
      .command('rotate')
      .description(
        "Create successors of your operator's keys: published now, signing after the publish lead (audited; other operators' keys are untouched)",
      ),
    'simtrust endorse keys rotate --algorithm RS256 --activate-in 600',
  )
    .option('--algorithm <alg...>', 'RS256, ES256 and/or EdDSA (default: all)')
    .option(
      '--activate-in <seconds>',
      'seconds until the successors sign (default: endorseKeyPublishLeadSeconds)',
    )
    .action(async (o: { algorithm?: string[]; activateIn?: string }, command: Command) => {
      const client = await apiClient(command);
      const activateInSeconds = o.activateIn === undefined ? undefined : Number(o.activateIn);
      if (
        activateInSeconds !== undefined &&
        (!Number.isInteger(activateInSeconds) || activateInSeconds < 0)
      ) {
        throw usage('--activate-in must be a whole number of seconds');
      }
      const body = {
        ...(o.algorithm ? { algorithms: o.algorithm } : {}),
        ...(activateInSeconds === undefined ? {} : { activateInSeconds }),
      };
      print(
        command,
        await client.request<SigningKeyView[]>('POST', '/v1/endorse/keys/rotate', { body }),
        KEY_COLUMNS,
      );
    });

  example(
    keys
      .command('get')
      .description(
        "One of your operator's keys as an X.509 certificate (PEM) by kid, as SORACOM-style verifiers download it",
      ),
    'simtrust endorse keys get v1-0123456789abcdef0123456789abcdef-x509.pem > key.pem',
  )
    .argument('<kid>')
    .action(async (kid: string, _o, command: Command) => {
      const client = await apiClient(command);
      const path = await operatorPath(command, client, `/endorse/keys/${encodeURIComponent(kid)}`);
      const res = await client.send('GET', path, {
        headers: { accept: 'application/x-pem-file' },
      });
      process.stdout.write(await res.text());
    });

  example(
    endorse
      .command('token')
      .description("Ask the device listener for a token (from this host's address, as a device)"),
    'simtrust endorse token --device-url http://127.0.0.1:8082 --param username=sora',
  )
    .option('--device-url <url>', 'the device listener', DEFAULT_DEVICE_URL)
    .option('--param <pair...>', 'request parameters name=value (endorsed when the group enables them)')
    .option('--redirect-url <url>', 'redirect flow: print the Location the listener answers with')
    .action(async (o: { deviceUrl: string; param?: string[]; redirectUrl?: string }, command: Command) => {
      const url = new URL('/', o.deviceUrl);
      for (const pair of o.param ?? []) {
        const i = pair.indexOf('=');
        if (i <= 0) throw usage(`--param ${pair}: expected name=value`);
        url.searchParams.append(pair.slice(0, i), pair.slice(i + 1));
      }
      if (o.redirectUrl) url.searchParams.set('redirect_url', o.redirectUrl);
      print(command, await deviceCall(url.toString()));
    });

  example(
    endorse
      .command('challenge')
      .description(
        'Prove a SIM over any link: run the AKA challenge with a software card file and get a token',
      ),
    'simtrust endorse challenge --card device.card.json --device-url http://127.0.0.1:8082',
  )
    .requiredOption('--card <file>', 'card file (simtrust card new)')
    .option('--device-url <url>', 'the device listener', DEFAULT_DEVICE_URL)
    .option('--pin <pin>', 'PIN1, if the card has it enabled')
    .action(async (o: { card: string; deviceUrl: string; pin?: string }, command: Command) => {
      const [{ PersistentCard }, { Terminal }, { fromHex, toHex }] = await Promise.all([
        import('../../card/card-file.js'),
        import('../../card/terminal.js'),
        import('../../lib/hex.js'),
      ]);
      const opened = PersistentCard.open(o.card);
      if (!opened.ok) throw usage(opened.error.message);
      const card = opened.value;
      card.reset();
      const terminal = new Terminal((apdu) => card.transmit(apdu));
      for (const step of [terminal.selectUsim(), terminal.verifyPin1IfNeeded(o.pin)]) {
        if (!step.ok) throw new SimtrustError('ERR_CLI_USAGE', step.error.message);
      }
      const imsi = terminal.readImsi();
      if (!imsi.ok) throw usage(imsi.error.message);
      const post = (path: string, body: unknown) =>
        deviceCall(new URL(path, o.deviceUrl).toString(), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      let challenge = await post('/v1/endorse/challenges', { imsi: imsi.value });
      // At most one resynchronisation (TS 33.102 §6.3.5): a second sync failure is a real fault.
      for (let round = 0; round < 2; round++) {
        const r = terminal.authenticateUmts(
          fromHex(String(challenge.rand)) ?? new Uint8Array(),
          fromHex(String(challenge.autn)) ?? new Uint8Array(),
        );
        if (!r.ok) throw new SimtrustError('ERR_CLI_USAGE', r.error.message);
        const path = `/v1/endorse/challenges/${String(challenge.challengeId)}/response`;
        if (r.value.kind === 'mac_failure')
          throw new SimtrustError('ERR_API', 'the card refused AUTN: not this platform');
        if (r.value.kind === 'success') {
          print(command, await post(path, { res: toHex(r.value.res) }));
          return;
        }
        challenge = await post(path, { auts: toHex(r.value.auts) });
      }
      throw new SimtrustError('ERR_API', 'the card asked to resynchronise twice');
    });

  example(
    endorse
      .command('verify')
      .description("Verify a token offline against an operator's JWKS URL (the SDK simtrust/verify)"),
    'simtrust endorse verify "$TOKEN" --operator OP0123456789 --jwks-url http://127.0.0.1:8082/v1/operators/OP0123456789/endorse/jwks.json',
  )
    .argument('<token>')
    .requiredOption('--jwks-url <url>', "the operator's JWKS (/v1/operators/<operatorId>/endorse/jwks.json)")
    .option(
      '--operator <operatorId>',
      'the operator whose tokens these are: expected iss simtrust/operators/<operatorId>',
    )
    .option(
      '--issuer <iss>',
      'expected iss (default: from --operator; https://soracom.io for compat "soracom")',
    )
    .option('--audience <aud>', 'expected aud', 'simtrust-endorse-audience')
    .option('--algorithm <alg...>', 'accepted algorithms', ['RS256', 'ES256', 'EdDSA'])
    .action(
      async (
        token: string,
        o: { jwksUrl: string; operator?: string; issuer?: string; audience: string; algorithm: string[] },
        command: Command,
      ) => {
        const { operatorIssuer } = await import('../../platform/endorse/tokens.js');
        const issuer =
          o.issuer ?? (o.operator === undefined ? undefined : operatorIssuer('simtrust', o.operator));
        if (issuer === undefined) {
          throw usage(
            'give --operator <operatorId> (native tokens are issued by simtrust/operators/<operatorId>) or --issuer',
          );
        }
        const { createVerifier, SimTokenError } = await import('../../sdk/verify.js');
        const verifier = createVerifier({
          jwksUrl: o.jwksUrl,
          issuer,
          audience: o.audience,
          algorithms: o.algorithm as Array<'RS256' | 'ES256' | 'EdDSA'>,
        });
        try {
          print(command, await verifier.verify(token));
        } catch (e) {
          if (e instanceof SimTokenError) throw new SimtrustError('ERR_API', `${e.message} (${e.code})`);
          throw e;
        }
      },
    );
}
