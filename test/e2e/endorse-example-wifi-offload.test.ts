// The Wi-Fi offload example (examples/wifi-offload): a device attached over cellular gets a token
// from its session address, then uploads a large file to the upload server from a *different*
// address (its Wi-Fi); the server accepts it only for the registered IMSI+IMEI pair.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTokenOverCellular, offload, uploadOverWifi } from '../../examples/wifi-offload/device.js';
import { createUploadServer, type Upload } from '../../examples/wifi-offload/upload-server.js';
import {
  attach,
  type CardSim,
  createCardSim,
  createEndorseGroup,
  type DeviceSession,
  type EndorseWorld,
  startEndorseWorld,
} from './endorse-fixture.js';

const IMEI = '490154203237518';
const OTHER_DEVICE_IMEI = '356938035643809';
const WIFI = '127.0.0.99';

let world: EndorseWorld;
let sim: CardSim;
let cellular: DeviceSession;
let server: Server;
let uploadBase: string;
let uploads: Upload[];
const dir = mkdtempSync(join(tmpdir(), 'simtrust-offload-'));
const big = join(dir, 'video.bin');
const small = join(dir, 'note.txt');

beforeAll(async () => {
  world = await startEndorseWorld();
  const groupId = await createEndorseGroup(world, {
    enabled: true,
    parametersToEndorse: { imsi: true, imei: true },
  });
  sim = await createCardSim(world, { groupId });
  cellular = await attach(world, sim, IMEI);
  const upload = createUploadServer({
    jwksUrl: world.jwksUrl,
    issuer: world.issuer,
    registered: [{ imsi: sim.imsi, imei: IMEI }],
    dir: mkdtempSync(join(dir, 'store-')),
  });
  uploads = upload.uploads;
  server = upload.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  uploadBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(big, randomBytes(32 * 1024 * 1024));
  writeFileSync(small, 'hello');
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Wi-Fi offload example', () => {
  it('token over cellular, 32 MiB upload over Wi-Fi, accepted for the registered pair', async () => {
    const r = await offload({
      deviceUrl: world.deviceUrl,
      cellularAddress: cellular.address,
      wifiAddress: WIFI,
      uploadUrl: `${uploadBase}/upload/video.bin`,
      file: big,
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      bytes: 32 * 1024 * 1024,
      sha256: createHash('sha256').update(readFileSync(big)).digest('hex'),
      imsi: sim.imsi,
    });
    // The upload came over Wi-Fi, not over the SIM's session.
    expect(uploads.at(-1)?.from).toBe(WIFI);
    expect(WIFI).not.toBe(cellular.address);
  });

  it('refuses the same SIM in another device (IMEI not registered), and no token at all', async () => {
    // Threat: the SIM is taken out of the registered device and used in another one.
    const movedSession = await attach(world, sim, OTHER_DEVICE_IMEI);
    const token = await getTokenOverCellular(world.deviceUrl, movedSession.address);
    const r = await uploadOverWifi(`${uploadBase}/upload/x`, WIFI, small, token);
    expect([r.status, r.body.code]).toEqual([401, 'TOKEN_NOT_ALLOWED']);
    const none = await uploadOverWifi(`${uploadBase}/upload/x`, WIFI, small, undefined);
    expect([none.status, none.body.code]).toEqual([401, 'TOKEN_MISSING']);
    // And Wi-Fi alone cannot get a token: its address owns no session.
    await expect(getTokenOverCellular(world.deviceUrl, WIFI)).rejects.toThrow('ERR_ENDORSE_NO_SESSION');
  });
});
