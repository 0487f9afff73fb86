// The eUICC's side of ES5 over HTTPS for tests, played over the real PSK-TLS connection: connect with
// the ISD-R's SCP81 key set (SGP.02 Table 4 identity, KVN 40), POST as GP Amd B says, run each job on
// the software eUICC — an expanded command script on the ISD-R, raw SCP03t data on the ISD-P the
// X-Admin-Targeted-Application names — and post the answer, until the SM-SR ends the session (204).

import { connect, type TLSSocket } from 'node:tls';
import type { Euicc } from '../../../src/card/euicc/euicc.js';
import { runIsdrScript } from '../../../src/card/euicc/isd-r-ota.js';
import { ISD_R_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import {
  ADMIN_PROTOCOL,
  adminFrom,
  encodePskIdentity,
  PSK_TLS_CIPHERS,
  parseTargetedApplication,
} from '../../../src/lib/gp-amd-b-ram-over-http.js';

/** A PSK-TLS connection as the eUICC opens it after the push (SGP.02 Table 4 identity, KVN 40). */
export function cardConnect(
  sockets: TLSSocket[],
  port: number,
  eid: string,
  psk: Uint8Array,
): Promise<TLSSocket | undefined> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    ciphers: PSK_TLS_CIPHERS,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({
      psk: Buffer.from(psk),
      identity: encodePskIdentity({ eid, aid: ISD_R_AID, kvn: 0x40, kid: 1 }),
    }),
  });
  sockets.push(socket);
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('close', () => resolve(undefined));
  });
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One GP Amd B POST on the open connection, and its answer. */
export function post(
  socket: TLSSocket,
  eid: string,
  path: string,
  body: Uint8Array,
  scriptStatus?: string,
): Promise<HttpAnswer> {
  const head =
    `POST ${path} HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: ${ADMIN_PROTOCOL}\r\n` +
    `X-Admin-From: ${adminFrom(eid, ISD_R_AID)}\r\n` +
    (scriptStatus === undefined ? '' : `X-Admin-Script-Status: ${scriptStatus}\r\n`) +
    `Content-Length: ${body.length}\r\n\r\n`;
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const at = l.indexOf(':');
        headers[l.slice(0, at).toLowerCase()] = l.slice(at + 1).trim();
      }
      const length = Number(headers['content-length'] ?? '0');
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve({
        status: Number(lines[0]?.split(' ')[1]),
        headers,
        body: buf.subarray(end + 4, end + 4 + length),
      });
    };
    socket.on('data', onData);
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
  });
}

/**
 * One session as the card runs it after a push: every job on the eUICC until the SM-SR answers 204.
 * Undefined when the handshake fails (no push out for this eUICC, or a wrong key). `onScript` sees
 * each ISD-R script's effects (a REFRESH to perform after the session).
 */
export async function runCardSession(
  sockets: TLSSocket[],
  port: number,
  eid: string,
  psk: Uint8Array,
  euicc: Euicc,
  onScript?: (r: { refresh: boolean }) => void,
): Promise<number | undefined> {
  const socket = await cardConnect(sockets, port, eid, psk);
  if (socket === undefined) return undefined;
  let jobs = 0;
  let answer = await post(socket, eid, '/gp/ram', new Uint8Array(0));
  while (answer.status === 200) {
    jobs++;
    const target = parseTargetedApplication(answer.headers['x-admin-targeted-application'] ?? '');
    const aid = target.ok ? target.value : ISD_R_AID;
    let body: Uint8Array;
    if (aid === ISD_R_AID) {
      const run = runIsdrScript(euicc, new Uint8Array(answer.body));
      onScript?.({ refresh: run.refresh });
      body = run.response;
    } else {
      body = euicc.processIsdpData(aid, new Uint8Array(answer.body));
    }
    answer = await post(socket, eid, answer.headers['x-admin-next-uri'] ?? '', body, 'ok');
  }
  socket.destroy();
  return jobs;
}
