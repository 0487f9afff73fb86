// The upload server of the Wi-Fi offload example: it accepts large files only from devices whose
// SIM token names a registered IMSI+IMEI pair. It never sees the cellular network: the token, got
// over the SIM's data session, is what proves the device while it uploads over Wi-Fi.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createVerifier } from '@simtrust/verify';
import { requireSimToken } from '@simtrust/verify/express';
import express, { type Express } from 'express';

export interface UploadServerOptions {
  /** The operator's JWKS (device listener or API): /v1/operators/<operatorId>/endorse/jwks.json */
  readonly jwksUrl: string;
  /** That operator's issuer: `simtrust/operators/<operatorId>` (`https://soracom.io` for compat "soracom"). */
  readonly issuer: string;
  readonly audience?: string;
  /** The devices allowed to upload: IMSI of the SIM and IMEI of the device it must sit in. */
  readonly registered: ReadonlyArray<{ imsi: string; imei: string }>;
  /** Where uploads are written. */
  readonly dir: string;
}

export interface Upload {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly imsi: string;
  /** The address the upload came from (the device's Wi-Fi address). */
  readonly from: string;
}

export function createUploadServer(options: UploadServerOptions): { app: Express; uploads: Upload[] } {
  const verifier = createVerifier({
    jwksUrl: options.jwksUrl,
    issuer: options.issuer,
    audience: options.audience ?? 'simtrust-endorse-audience',
  });
  const uploads: Upload[] = [];
  const app = express();
  app.put(
    '/upload/:name',
    requireSimToken({ verifier, allow: options.registered }),
    async (req, res, next) => {
      try {
        const name = String(req.params.name).replace(/[^A-Za-z0-9._-]/g, '_');
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        // Streamed to disk: a large file never sits in memory.
        await pipeline(req, createWriteStream(join(options.dir, name)));
        const upload: Upload = {
          name,
          bytes,
          sha256: hash.digest('hex'),
          imsi: res.locals.simToken.sim.imsi,
          from: req.socket.remoteAddress ?? '',
        };
        uploads.push(upload);
        res.status(201).json(upload);
      } catch (e) {
        next(e);
      }
    },
  );
  return { app, uploads };
}
