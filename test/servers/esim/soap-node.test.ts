// SGP.02 SOAP over HTTPS with mutual TLS, on loopback. Threats: a caller without a certificate or
// with one that is not a configured partner (refused with a reason, before the body is read); a
// server that is not the pinned partner (nothing is sent); oversized or hostile bodies (a fault
// with a FAILED status, the listener keeps serving). And the happy path: SM-DP → SM-SR calls whose
// result comes back as an asynchronous *Response call to ReplyTo.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:https';
import { createInterface } from 'node:readline';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEisSignature } from '../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  decodeSoapFault,
  encodeSoapMessage,
  newMessageId,
} from '../../../src/platform/esim/es-soap/soap-envelope.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { EID, EUM_KEYS, sampleEis } from '../../platform/esim/es-soap/fixtures.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

let dpId: TlsIdentity;
let srId: TlsIdentity;
let eumId: TlsIdentity;
let strangerId: TlsIdentity;
let sr: SoapNode;
let dp: SoapNode;
let eum: SoapNode;
const srSeen: Array<{ peer: string; data?: Uint8Array }> = [];

function rawPost(
  url: string,
  body: string | Buffer,
  identity?: TlsIdentity,
  contentType = 'application/soap+xml; charset=utf-8',
): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        rejectUnauthorized: false,
        ...(identity === undefined ? {} : { key: identity.keyPem, cert: identity.certificatePem }),
        headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  [dpId, srId, eumId, strangerId] = await Promise.all([
    issueTlsIdentity('sm-dp.operator-1'),
    issueTlsIdentity('sm-sr.operator-1'),
    issueTlsIdentity('eum.vendor'),
    issueTlsIdentity('stranger'),
  ]);
  sr = await SoapNode.start({
    name: 'sm-sr',
    tls: srId,
    partners: [],
    limits: { maxBodyBytes: 64 * 1024 },
    handlers: {
      'ES3-SendDataRequest': async (body, ctx) => {
        srSeen.push({ peer: ctx.peer, data: body.data });
        return { status: SUCCESS, output: { euiccResponseData: new Uint8Array([0x85, 0x10, ...body.data]) } };
      },
      'ES3-CreateISDPRequest': async () => ({
        status: failed(SUBJECT_CODES.EID, REASON_CODES.UNKNOWN, 'unknown EID', EID),
      }),
      'ES1-RegisterEISRequest': async (_body, ctx) => {
        const [received] = ctx.eisElements;
        try {
          if (received === undefined) throw new Error('no EIS');
          verifyEisSignature(received, EUM_KEYS.publicKey);
          return { status: SUCCESS, output: {} };
        } catch {
          return {
            status: failed(SUBJECT_CODES.EIS, REASON_CODES.VERIFICATION_FAILED, 'EumSignature invalid'),
          };
        }
      },
    },
  });
  dp = await SoapNode.start({ name: 'sm-dp', tls: dpId, partners: [], handlers: {} });
  eum = await SoapNode.start({ name: 'eum', tls: eumId, partners: [], handlers: {} });
  sr.addPartner({ name: 'sm-dp', url: dp.url, certificatePem: dpId.certificatePem });
  sr.addPartner({ name: 'eum', url: eum.url, certificatePem: eumId.certificatePem, interfaces: ['ES1'] });
  dp.addPartner({ name: 'sm-sr', url: sr.url, certificatePem: srId.certificatePem });
  eum.addPartner({ name: 'sm-sr', url: sr.url, certificatePem: srId.certificatePem });
});

afterAll(async () => {
  await Promise.all([sr?.close(), dp?.close(), eum?.close()]);
});

describe('SoapNode (mutual TLS)', () => {
  it('end to end: ES3-SendData from the SM-DP, acknowledged, then the asynchronous ES3-SendDataResponse', async () => {
    const response = await dp.call('sm-sr', 'ES3-SendDataRequest', {
      functionCallIdentifier: 'ks-1',
      validityPeriod: 600,
      eid: EID,
      sdAid: 'A0000005591010FFFFFFFF8900001000',
      data: new Uint8Array([0x80, 0xe2, 0x09, 0x00]),
      moreToDo: true,
    });
    expect(response.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect(response.euiccResponseData).toEqual(new Uint8Array([0x85, 0x10, 0x80, 0xe2, 0x09, 0x00]));
    expect(srSeen.at(-1)?.peer).toBe('sm-dp');
  });

  it('a FAILED result travels as the response with its Subject/Reason', async () => {
    const response = await dp.call('sm-sr', 'ES3-CreateISDPRequest', {
      functionCallIdentifier: 'c-1',
      eid: EID,
      iccid: '8988211000000467285',
      mnoId: '1.2.3',
      requiredMemory: 65_536,
    });
    expect(response.functionExecutionStatus).toEqual({
      status: 'FAILED',
      statusCodeData: { subject: '8.1.1', reason: '3.9', subjectIdentifier: EID, message: 'unknown EID' },
    });
  });

  it('ES1-RegisterEIS: the SM-SR verifies the EUM signature on the EIS as received', async () => {
    const good = await eum.call('sm-sr', 'ES1-RegisterEISRequest', {
      functionCallIdentifier: 'r-1',
      eis: sampleEis(),
    });
    expect(good.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await eum.call('sm-sr', 'ES1-RegisterEISRequest', {
      functionCallIdentifier: 'r-2',
      eis: sampleEis(otherKey),
    });
    expect(forged.functionExecutionStatus).toMatchObject({
      status: 'FAILED',
      statusCodeData: { subject: '8.6', reason: '6.1' },
    });
  });

  it('a partner may use only its interfaces: the EUM (ES1 only) cannot call ES3 (403, SOAP_NOT_ALLOWED, 1.1 / 1.2)', async () => {
    await expect(
      eum.call('sm-sr', 'ES3-SendDataRequest', {
        functionCallIdentifier: 'x',
        eid: EID,
        sdAid: 'A0000005591010FFFFFFFF8900001000',
        data: new Uint8Array([1]),
      }),
    ).rejects.toMatchObject({
      code: 'ERR_ESIM_SOAP_REJECTED',
      details: {
        httpStatus: 403,
        fault: 'SOAP_NOT_ALLOWED',
        status: { statusCodeData: { subject: '1.1', reason: '1.2' } },
      },
    });
  });

  it('a client without a certificate is refused (403, SOAP_PEER_CERTIFICATE_REQUIRED)', async () => {
    const res = await rawPost(sr.url, '<x/>');
    expect(res.status).toBe(403);
    expect(decodeSoapFault(res.text)).toMatchObject({
      code: 'SOAP_PEER_CERTIFICATE_REQUIRED',
      status: { status: 'FAILED', statusCodeData: { subject: '1.1', reason: '1.1' } },
    });
  });

  it('a client with a certificate that is not a partner is refused with its fingerprint (403, SOAP_PEER_UNKNOWN)', async () => {
    const res = await rawPost(sr.url, '<x/>', strangerId);
    expect(res.status).toBe(403);
    const fault = decodeSoapFault(res.text);
    expect(fault?.code).toBe('SOAP_PEER_UNKNOWN');
    expect(fault?.reason).toMatch(
      /SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\) is not among the configured partners/,
    );
  });

  it('a server that is not the pinned partner gets nothing (ERR_ESIM_SOAP_TRANSPORT)', async () => {
    const before = srSeen.length;
    dp.addPartner({ name: 'fake-sr', url: sr.url, certificatePem: strangerId.certificatePem });
    await expect(
      dp.call('fake-sr', 'ES3-SendDataRequest', {
        functionCallIdentifier: 'x',
        eid: EID,
        sdAid: 'A0000005591010FFFFFFFF8900001000',
        data: new Uint8Array([1]),
      }),
    ).rejects.toMatchObject({ code: 'ERR_ESIM_SOAP_TRANSPORT' });
    expect(srSeen.length).toBe(before);
  });

  it('oversized, hostile and mistyped bodies get a fault with a FAILED status; the listener keeps serving', async () => {
    const big = await rawPost(sr.url, Buffer.alloc(100 * 1024, 0x41), dpId);
    expect(big.status).toBe(413);
    expect(decodeSoapFault(big.text)?.code).toBe('SOAP_BODY_TOO_LARGE');
    const xxe = await rawPost(
      sr.url,
      '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
      dpId,
    );
    expect(xxe.status).toBe(400);
    expect(decodeSoapFault(xxe.text)).toMatchObject({
      code: 'XML_DTD_FORBIDDEN',
      status: { status: 'FAILED' },
    });
    const json = await rawPost(sr.url, '{}', dpId, 'application/json');
    expect(json.status).toBe(415);
    const notUtf8 = await rawPost(sr.url, Buffer.from([0xff, 0xfe, 0x3c]), dpId);
    expect(decodeSoapFault(notUtf8.text)?.code).toBe('XML_MALFORMED');
    // A request whose ReplyTo is not the partner's own endpoint is refused (no SSRF through responses).
    const spec = MESSAGE_BY_ELEMENT.get('ES3-SendDataRequest');
    const redirected = encodeSoapMessage({
      addressing: {
        action: spec?.action ?? '',
        messageId: newMessageId(),
        to: sr.url,
        replyTo: 'https://127.0.0.1:1/steal',
      },
      message: {
        element: 'ES3-SendDataRequest',
        body: {
          functionCallIdentifier: 'x',
          eid: EID,
          sdAid: 'A0000005591010FFFFFFFF8900001000',
          data: new Uint8Array([1]),
        },
      },
    });
    const ssrf = await rawPost(sr.url, redirected, dpId);
    expect(decodeSoapFault(ssrf.text)?.code).toBe('SOAP_REPLY_TO_REFUSED');
    // Still serving.
    const ok = await dp.call('sm-sr', 'ES3-SendDataRequest', {
      functionCallIdentifier: 'after',
      eid: EID,
      sdAid: 'A0000005591010FFFFFFFF8900001000',
      data: new Uint8Array([2]),
    });
    expect(ok.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });

  it('a function the node does not provide is refused synchronously (ERR_ESIM_SOAP_REJECTED, SOAP_FUNCTION_UNSUPPORTED)', async () => {
    await expect(
      dp.call('sm-sr', 'ES3-DeleteISDPRequest', {
        functionCallIdentifier: 'd',
        eid: EID,
        iccid: '8988211000000467285',
      }),
    ).rejects.toMatchObject({
      code: 'ERR_ESIM_SOAP_REJECTED',
      details: { fault: 'SOAP_FUNCTION_UNSUPPORTED', httpStatus: 400 },
    });
  });
});

describe('SoapNode limits and certificate validity', () => {
  it('connections beyond maxConnections are dropped; a slot freed is usable again', async () => {
    const small = await SoapNode.start({
      name: 'small',
      tls: srId,
      partners: [{ name: 'sm-dp', url: 'https://127.0.0.1:1/unused', certificatePem: dpId.certificatePem }],
      handlers: {},
      limits: { maxConnections: 1 },
    });
    const u = new URL(small.url);
    const open = () =>
      new Promise<{ connected: boolean; socket: TLSSocket }>((resolve) => {
        const socket = connect({
          host: u.hostname,
          port: Number(u.port),
          key: dpId.keyPem,
          cert: dpId.certificatePem,
          rejectUnauthorized: false,
        });
        socket.once('secureConnect', () => resolve({ connected: true, socket }));
        socket.once('error', () => resolve({ connected: false, socket }));
        socket.once('close', () => resolve({ connected: false, socket }));
      });
    try {
      const first = await open();
      expect(first.connected).toBe(true);
      const second = await open();
      expect(second.connected).toBe(false);
      const closed = new Promise((resolve) => first.socket.once('close', resolve));
      first.socket.destroy();
      await closed;
      // The server counts the closed connection asynchronously; retry until the slot is seen free.
      let third = await open();
      for (let i = 0; i < 50 && !third.connected; i += 1) third = await open();
      expect(third.connected).toBe(true);
      third.socket.destroy();
    } finally {
      await small.close();
    }
  });

  it('a partner whose pinned certificate has expired is refused (403, SOAP_PEER_CERTIFICATE_EXPIRED)', async () => {
    const expired = await issueTlsIdentity('old-sm-dp', {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    sr.addPartner({
      name: 'old-sm-dp',
      url: 'https://127.0.0.1:1/old',
      certificatePem: expired.certificatePem,
    });
    const res = await rawPost(sr.url, '<x/>', expired);
    expect(res.status).toBe(403);
    expect(decodeSoapFault(res.text)?.code).toBe('SOAP_PEER_CERTIFICATE_EXPIRED');
  });
});

describe('SoapNode across processes', () => {
  it('an SM-DP here and an SM-SR in another process (another operator) use the same code path', async () => {
    const otherSr = await issueTlsIdentity('sm-sr.operator-2');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/servers/esim/soap-peer-process.ts'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      const lines = createInterface({ input: child.stdout });
      const first = once(lines, 'line') as Promise<[string]>;
      child.stdin.write(
        `${JSON.stringify({ ...otherSr, partner: { name: 'sm-dp', url: dp.url, certificatePem: dpId.certificatePem } })}\n`,
      );
      const [line] = await first;
      const { url, pid } = JSON.parse(line) as { url: string; pid: number };
      expect(pid).not.toBe(process.pid);
      dp.addPartner({ name: 'sm-sr-2', url, certificatePem: otherSr.certificatePem });
      const response = await dp.call('sm-sr-2', 'ES3-SendDataRequest', {
        functionCallIdentifier: 'p-1',
        eid: EID,
        sdAid: 'A0000005591010FFFFFFFF8900001000',
        data: new Uint8Array([0xaa]),
      });
      expect(response.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(response.euiccResponseData).toEqual(
        new Uint8Array([...new TextEncoder().encode(`${pid}:sm-dp:`), 0xaa]),
      );
    } finally {
      child.stdin.end();
      await exited;
    }
  });
});
