// Interop: the SGP.02 SOAP listener with programs it did not write. `openssl req` issues the
// operator's ECDSA P-256 TLS certificate; `openssl s_client` is the operator's HTTPS client and
// POSTs an ES4-GetEIS request with that certificate (mutual TLS). The SM-SR acknowledges it (202)
// and delivers ES4-GetEISResponse asynchronously to the operator's ReplyTo — a SoapNode running on
// the openssl certificate. Without the certificate, s_client gets the 403 and its reason.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUCCESS } from '../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { encodeSoapMessage, newMessageId } from '../../src/platform/esim/es-soap/soap-envelope.js';
import { SoapNode } from '../../src/servers/esim/soap-node.js';
import { requirePrograms } from '../helpers/external.js';
import { EID, sampleEis } from '../platform/esim/es-soap/fixtures.js';
import { issueTlsIdentity } from '../servers/esim/tls-fixtures.js';

const available = requirePrograms({ openssl: 'openssl' });

// Asynchronous: the listener runs in this process, so the client must not block its event loop.
function sClient(url: string, body: string, certificate?: { cert: string; key: string }): Promise<string> {
  const u = new URL(url);
  const request =
    `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  const args = ['s_client', '-connect', u.host, '-quiet', '-ign_eof', '-verify_quiet'];
  if (certificate !== undefined) args.push('-cert', certificate.cert, '-key', certificate.key);
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    child.stdin.end(request);
  });
}

describe.skipIf(!available)('SGP.02 SOAP over mutual TLS with openssl', () => {
  let dir: string;
  let sr: SoapNode;
  let operator: SoapNode;
  const delivered: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  // Resolves when the operator's node has received the response to `messageId` (event-driven).
  const deliveryOf = (messageId: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const check = () => {
        const found = delivered.find((d) => d.relatesTo === messageId);
        if (found === undefined) return false;
        resolve(found);
        return true;
      };
      if (!check()) waiters.push(() => void check());
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'simtrust-soap-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'op.key'),
        '-out',
        join(dir, 'op.pem'),
        '-subj',
        '/CN=operator-1',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    const opTls = {
      keyPem: readFileSync(join(dir, 'op.key'), 'utf8'),
      certificatePem: readFileSync(join(dir, 'op.pem'), 'utf8'),
    };
    const srTls = await issueTlsIdentity('sm-sr.operator-1');
    operator = await SoapNode.start({
      name: 'operator',
      tls: opTls,
      partners: [],
      handlers: {},
      // The operator did not place this call through `call`, so the response arrives unclaimed.
      log: {
        warn: (object) => {
          delivered.push(object);
          for (const wake of waiters.splice(0)) wake();
        },
      },
    });
    sr = await SoapNode.start({
      name: 'sm-sr',
      tls: srTls,
      partners: [
        { name: 'operator-1', url: operator.url, certificatePem: opTls.certificatePem, interfaces: ['ES4'] },
      ],
      handlers: { 'ES4-GetEISRequest': async () => ({ status: SUCCESS, output: { eis: sampleEis() } }) },
    });
    operator.addPartner({ name: 'sm-sr', url: sr.url, certificatePem: srTls.certificatePem });
  });

  afterAll(async () => {
    await Promise.all([sr?.close(), operator?.close()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('openssl s_client with the operator certificate: 202, then ES4-GetEISResponse reaches the ReplyTo', async () => {
    const messageId = newMessageId();
    const body = encodeSoapMessage({
      addressing: {
        action: 'http://gsma.com/ES4/eUICCManagement/ES4-GetEIS',
        messageId,
        to: sr.url,
        from: operator.url,
        replyTo: operator.url,
      },
      message: { element: 'ES4-GetEISRequest', body: { functionCallIdentifier: 'op-1', eid: EID } },
    });
    const answer = await sClient(sr.url, body, { cert: join(dir, 'op.pem'), key: join(dir, 'op.key') });
    expect(answer).toMatch(/^HTTP\/1\.1 202/);
    expect(await deliveryOf(messageId)).toMatchObject({ peer: 'sm-sr', element: 'ES4-GetEISResponse' });
  });

  it('openssl s_client without a certificate: 403 SOAP_PEER_CERTIFICATE_REQUIRED', async () => {
    const answer = await sClient(sr.url, '<x/>');
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain('SOAP_PEER_CERTIFICATE_REQUIRED: a client certificate is required');
  });
});
