// Interop: FreeRADIUS's radclient (an independent RADIUS implementation) against a tiny UDP responder
// built from our codec. radclient checks our Response Authenticators and Message-Authenticators; we
// check its Request Authenticators, Message-Authenticators and 3GPP attributes. The dictionaries it
// ships are also compared with ours (codes, vendors, data types).

import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttribute } from '../../src/lib/radius/attributes.js';
import {
  type AttributeName,
  type AttributeSpec,
  RADIUS_ATTRIBUTES,
} from '../../src/lib/radius/dictionary.js';
import {
  encodeResponse,
  isComputedAuthenticatorRequest,
  messageAuthenticator,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
} from '../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES, type RadiusPacket } from '../../src/lib/radius/rfc-2865-packet.js';
import { accountingOctets } from '../../src/lib/radius/rfc-2869-gigawords.js';
import { requirePrograms } from '../helpers/external.js';

const available = requirePrograms({ radclient: 'freeradius-utils' });
const DICTIONARY_DIR = '/usr/share/freeradius';
const SECRET = 'interop-secret';

interface Seen {
  readonly packet: RadiusPacket;
  readonly raw: Uint8Array;
  readonly messageAuthenticator: string;
  readonly requestAuthenticatorValid?: boolean;
}

/** A NAS-facing responder: decodes with our codec, answers Access/Accounting/CoA requests. */
class Responder {
  readonly seen: Seen[] = [];
  private socket: Socket = createSocket('udp4');

  /** `replySecret` other than SECRET signs answers wrongly, to show radclient really checks them. */
  constructor(private readonly replySecret = SECRET) {}

  async start(): Promise<number> {
    this.socket.on('message', (msg, from) => this.handle(new Uint8Array(msg), from.address, from.port));
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  private handle(raw: Uint8Array, address: string, port: number): void {
    const decoded = decodePacket(raw);
    if (!decoded.ok) return;
    const packet = decoded.value;
    const ma = verifyMessageAuthenticator(raw, SECRET);
    const computed = isComputedAuthenticatorRequest(packet.code);
    const requestAuthenticatorValid = computed ? verifyRequestAuthenticator(raw, SECRET) : undefined;
    this.seen.push({
      packet,
      raw,
      messageAuthenticator: ma,
      ...(computed ? { requestAuthenticatorValid } : {}),
    });
    // As a server must: drop what does not authenticate.
    if (ma === 'invalid' || requestAuthenticatorValid === false) return;
    const reply = this.reply(packet);
    if (!reply) return;
    const bytes = encodeResponse(reply, packet.authenticator, this.replySecret);
    if (bytes.ok) this.socket.send(bytes.value, port, address);
  }

  private reply(packet: RadiusPacket) {
    switch (packet.code) {
      case RADIUS_CODES['Access-Request']:
        return {
          code: RADIUS_CODES['Access-Accept'],
          identifier: packet.identifier,
          attributes: [
            messageAuthenticator(),
            ['Framed-IP-Address', '127.64.0.7'],
            ['Reply-Message', 'welcome'],
            ['Session-Timeout', 3600],
            ['WISPr-Bandwidth-Max-Down', 1_000_000],
          ] as const,
        };
      case RADIUS_CODES['Accounting-Request']:
        return { code: RADIUS_CODES['Accounting-Response'], identifier: packet.identifier, attributes: [] };
      case RADIUS_CODES['CoA-Request']:
        return {
          code: RADIUS_CODES['CoA-ACK'],
          identifier: packet.identifier,
          attributes: [messageAuthenticator()],
        };
      default:
        return undefined;
    }
  }

  close(): void {
    this.socket.close();
  }
}

function radclient(
  port: number,
  command: string,
  input: string,
  secret = SECRET,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // -d: an empty user dictionary directory, so a host's /etc/freeradius never matters; -D: the
    // dictionaries freeradius-utils ships (dictionary.3gpp, dictionary.microsoft, dictionary.wispr…).
    const child = spawn('radclient', [
      '-x',
      '-r',
      '1',
      '-t',
      '2',
      '-d',
      userDictDir,
      '-D',
      DICTIONARY_DIR,
      `127.0.0.1:${port}`,
      command,
      secret,
    ]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      out += String(d);
    });
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

let userDictDir = '';

describe.skipIf(!available)('RADIUS codec ⇄ FreeRADIUS radclient', () => {
  const responder = new Responder();
  let port = 0;

  beforeAll(async () => {
    userDictDir = mkdtempSync(join(tmpdir(), 'simtrust-radclient-'));
    writeFileSync(join(userDictDir, 'dictionary'), '');
    port = await responder.start();
  });
  afterAll(() => {
    responder.close();
    rmSync(userDictDir, { recursive: true, force: true });
  });

  it('decodes an Access-Request with 3GPP VSAs, and radclient accepts our signed Access-Accept', async () => {
    const input = [
      'User-Name = "232010000000000"',
      '3GPP-IMSI = "232010000000000"',
      '3GPP-IMEISV = "3534321910800001"',
      '3GPP-User-Location-Info = 0x8232f210426d32f21000013e02',
      '3GPP-RAT-Type = EUTRAN',
      '3GPP-MS-Time-Zone = 0x8001',
      '3GPP-Selection-Mode = "0"',
      'Called-Station-Id = "iot.example"',
      'Framed-Protocol = GPRS-PDP-Context',
      'NAS-IP-Address = 127.0.0.1',
      'Message-Authenticator = 0x00',
    ].join(', ');
    const { code, out } = await radclient(port, 'auth', input);
    expect(out).toMatch(/Received Access-Accept/);
    expect(out).toMatch(/Framed-IP-Address = 127\.64\.0\.7/);
    expect(out).toMatch(/Reply-Message = "welcome"/);
    expect(out).toMatch(/WISPr-Bandwidth-Max-Down = 1000000/);
    expect(code).toBe(0);

    const request = responder.seen.find((s) => s.packet.code === RADIUS_CODES['Access-Request']);
    if (!request) throw new Error('no Access-Request seen');
    expect(request.messageAuthenticator).toBe('valid');
    const p = request.packet;
    expect(getAttribute(p, '3GPP-IMSI')).toEqual({ ok: true, value: '232010000000000' });
    expect(getAttribute(p, '3GPP-IMEISV')).toEqual({ ok: true, value: '3534321910800001' });
    expect(getAttribute(p, '3GPP-User-Location-Info')).toEqual({
      ok: true,
      value: { type: 'TAI+ECGI', mcc: '232', mnc: '01', tac: 0x426d, eci: 0x13e02 },
    });
    expect(getAttribute(p, '3GPP-RAT-Type')).toEqual({ ok: true, value: 6 });
    expect(getAttribute(p, '3GPP-MS-TimeZone')).toEqual({
      ok: true,
      value: { offsetMinutes: 120, dstHours: 1 },
    });
    expect(getAttribute(p, 'Called-Station-Id')).toEqual({ ok: true, value: 'iot.example' });
    expect(getAttribute(p, 'Framed-Protocol')).toEqual({ ok: true, value: 7 });
  });

  it("verifies radclient's Accounting-Request authenticator and reads 64-bit octet counters", async () => {
    const input = [
      'Acct-Status-Type = Start',
      'Acct-Session-Id = "s-1"',
      'User-Name = "232010000000000"',
      'Framed-IP-Address = 127.64.0.7',
      'Acct-Input-Octets = 10',
      'Acct-Input-Gigawords = 1',
      'Acct-Output-Octets = 20',
    ].join(', ');
    const { code, out } = await radclient(port, 'acct', input);
    expect(out).toMatch(/Received Accounting-Response/);
    expect(code).toBe(0);
    const request = responder.seen.find((s) => s.packet.code === RADIUS_CODES['Accounting-Request']);
    expect(request?.requestAuthenticatorValid).toBe(true);
    if (!request) return;
    expect(getAttribute(request.packet, 'Acct-Status-Type')).toEqual({ ok: true, value: 1 });
    expect(accountingOctets(request.packet)).toEqual({
      ok: true,
      value: { input: 2 ** 32 + 10, output: 20 },
    });
  });

  it('verifies a CoA-Request (RFC 5176) with Message-Authenticator and radclient accepts our CoA-ACK', async () => {
    const { code, out } = await radclient(
      port,
      'coa',
      'Acct-Session-Id = "s-1", WISPr-Bandwidth-Max-Up = 128000, Message-Authenticator = 0x00',
    );
    expect(out).toMatch(/Received CoA-ACK/);
    expect(code).toBe(0);
    const request = responder.seen.find((s) => s.packet.code === RADIUS_CODES['CoA-Request']);
    expect(request?.requestAuthenticatorValid).toBe(true);
    expect(request?.messageAuthenticator).toBe('valid');
    if (request)
      expect(getAttribute(request.packet, 'WISPr-Bandwidth-Max-Up')).toEqual({ ok: true, value: 128000 });
  });

  it('detects a wrong shared secret: Message-Authenticator invalid, no answer, radclient gives up', async () => {
    const before = responder.seen.length;
    const { code, out } = await radclient(
      port,
      'auth',
      'User-Name = "x", Message-Authenticator = 0x00',
      'wrong-secret',
    );
    expect(code).not.toBe(0);
    expect(out).not.toMatch(/Received Access-Accept/);
    const seen = responder.seen.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.messageAuthenticator === 'invalid')).toBe(true);
  });

  it('radclient refuses an answer signed with another secret (so its acceptance above means something)', async () => {
    const liar = new Responder('not-the-secret');
    const liarPort = await liar.start();
    try {
      const { code, out } = await radclient(
        liarPort,
        'auth',
        'User-Name = "x", Message-Authenticator = 0x00',
      );
      expect(out).toMatch(/invalid Message-Authenticator|Reply verification failed/);
      expect(code).not.toBe(0);
    } finally {
      liar.close();
    }
  });

  it('agrees with the FreeRADIUS dictionaries on every attribute code, vendor and data type', () => {
    const files = readdirSync(DICTIONARY_DIR).filter((f) =>
      /^dictionary\.(rfc\d+|3gpp|microsoft|wispr)$/.test(f),
    );
    const vendorIds = new Map<string, number>();
    const types = new Map<string, string>(); // "vendor:code" → FreeRADIUS type
    for (const file of files) {
      let vendor = 0;
      for (const line of readFileSync(join(DICTIONARY_DIR, file), 'utf8').split('\n')) {
        const f = line.replace(/#.*/, '').trim().split(/\s+/);
        if (f[0] === 'VENDOR' && f[1] && f[2]) vendorIds.set(f[1], Number(f[2]));
        if (f[0] === 'BEGIN-VENDOR' && f[1]) vendor = vendorIds.get(f[1]) ?? -1;
        if (f[0] === 'END-VENDOR') vendor = 0;
        if (f[0] === 'ATTRIBUTE' && f[2] && f[3] && /^\d+$/.test(f[2])) types.set(`${vendor}:${f[2]}`, f[3]);
      }
    }
    const compatible: Record<string, string[]> = {
      text: ['string'],
      string: ['octets', 'string', 'octets[2]'],
      integer: ['integer'],
      integer64: ['integer64'],
      time: ['date'],
      ipv4addr: ['ipaddr'],
      ipv6addr: ['ipv6addr'],
      ipv6prefix: ['ipv6prefix'],
      ifid: ['ifid'],
      byte: ['byte', 'integer'],
      uli: ['octets'],
      tz: ['octets[2]', 'octets'],
      'tagged-integer': ['integer'],
      'tagged-text': ['string'],
    };
    expect(types.size).toBeGreaterThan(200);
    const mismatches: string[] = [];
    for (const [name, spec] of Object.entries(RADIUS_ATTRIBUTES) as [AttributeName, AttributeSpec][]) {
      const theirs = types.get(`${spec.vendor ?? 0}:${spec.code}`);
      if (theirs === undefined || !compatible[spec.type]?.includes(theirs))
        mismatches.push(`${name} ours=${spec.type} theirs=${theirs}`);
    }
    expect(mismatches).toEqual([]);
  });
});
