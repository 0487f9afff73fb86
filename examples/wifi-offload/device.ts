// The device side of the Wi-Fi offload example: (1) over its cellular data session (its source
// address is the one the AAA gave its SIM) it asks the platform for a token; (2) over Wi-Fi — a
// different source address, unknown to the platform — it uploads a large file with that token.

import { createReadStream, statSync } from 'node:fs';
import { request } from 'node:http';

/** GET url from `localAddress`; resolves to the JSON answer. */
function getJson(
  url: string,
  localAddress: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, { localAddress }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    })
      .on('error', reject)
      .end();
  });
}

export interface OffloadOptions {
  /** The platform's device listener, e.g. http://127.0.0.1:8082 */
  readonly deviceUrl: string;
  /** The device's address on its cellular session (Framed-IP-Address). */
  readonly cellularAddress: string;
  /** The device's address on Wi-Fi. */
  readonly wifiAddress: string;
  /** e.g. http://127.0.0.1:9000/upload/video.bin */
  readonly uploadUrl: string;
  readonly file: string;
}

export async function getTokenOverCellular(deviceUrl: string, cellularAddress: string): Promise<string> {
  const answer = await getJson(`${deviceUrl}/`, cellularAddress);
  if (answer.status !== 200) throw new Error(`no token: ${String(answer.body.code)}`);
  return String(answer.body.token);
}

export function uploadOverWifi(
  uploadUrl: string,
  wifiAddress: string,
  file: string,
  token: string | undefined,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      uploadUrl,
      {
        method: 'PUT',
        localAddress: wifiAddress,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': statSync(file).size,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/** Token over cellular, upload over Wi-Fi. */
export async function offload(o: OffloadOptions) {
  const token = await getTokenOverCellular(o.deviceUrl, o.cellularAddress);
  return uploadOverWifi(o.uploadUrl, o.wifiAddress, o.file, token);
}
