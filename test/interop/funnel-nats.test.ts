// Funnel → NATS JetStream against a real nats-server -js started by this test (its own port and
// store directory, so it can be restarted). Devices attach over RADIUS and post from their session
// addresses. Threats covered: a message acknowledged to a device (204) that the stream does not
// hold — also across a server restart under load; a wrong password, a user without publish rights,
// a subject no stream takes or another stream's subject answered anything but a clear refusal; the
// broker's password reaching a device or a log.

import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import {
  createCredential,
  type FunnelWorld,
  funnelDevice,
  postFrom,
  startFunnelWorld,
} from '../servers/beam/funnel-fixture.js';
import { type Nats, startNats } from './helpers/funnel-brokers.js';
import { checkAtLeastOnce, loadThroughRestart } from './helpers/funnel-load.js';

const ok = requirePrograms({ 'nats-server': 'nats-server' });

describe.skipIf(!ok)('Funnel → NATS JetStream (nats-server)', () => {
  let world: FunnelWorld;
  let nats: Nats;
  let credId: string;

  const admin = () =>
    connect({ servers: `127.0.0.1:${nats.port}`, user: nats.user.name, pass: nats.user.password });

  /** A stream (file storage) taking `subjects`. */
  async function stream(name: string, subjects: string[]): Promise<void> {
    const nc = await admin();
    try {
      const jsm: JetStreamManager = await jetstreamManager(nc);
      await jsm.streams.add({ name, subjects, storage: StorageType.File });
    } finally {
      await nc.close();
    }
  }

  /** Every message the stream holds: its JSON body and Nats-Msg-Id. */
  async function stored(
    name: string,
  ): Promise<Array<{ body: Record<string, unknown>; id: string; subject: string }>> {
    const nc = await admin();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(name);
      const out: Array<{ body: Record<string, unknown>; id: string; subject: string }> = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(name, { seq });
        if (m === null) continue;
        out.push({ body: m.json(), id: m.header.get('Nats-Msg-Id'), subject: m.subject });
      }
      return out;
    } finally {
      await nc.close();
    }
  }

  const destination = (extra: Record<string, unknown> = {}) => ({
    provider: 'nats',
    resourceUrl: `nats://127.0.0.1:${nats.port}`,
    subject: 'devices.#{imsi}.up',
    ...extra,
  });

  beforeAll(async () => {
    nats = await startNats();
    world = await startFunnelWorld();
    credId = await createCredential(world, 'username-password-credentials', {
      username: nats.user.name,
      password: nats.user.password,
    });
    await stream('DEVICES', ['devices.>']);
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await nats?.stop();
  });

  it('answers 204 once the stream stored the message: the envelope, the IMSI in the subject, the message id', async () => {
    const { sim, address } = await funnelDevice(world, {
      enabled: true,
      destination: destination({ stream: 'DEVICES' }),
      credentialsId: credId,
      contentType: 'json',
      addSimId: true,
    });
    const r = await postFrom(world, address, '{"temperature":21.5}');
    expect([r.status, r.body]).toEqual([204, '']);
    const m = (await stored('DEVICES')).find((x) => x.body.imsi === sim.imsi);
    expect(m?.subject).toBe(`devices.${sim.imsi}.up`);
    expect(m?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m?.body).toMatchObject({
      operatorId: world.operatorId,
      simId: sim.simId,
      sourceProtocol: 'http',
      payloads: { temperature: 21.5 },
      destination: { provider: 'nats', service: 'jetstream', subject: 'devices.#{imsi}.up' },
    });
    expect(JSON.stringify(m?.body)).not.toContain(nats.user.password);
  });

  it('refuses clearly: wrong password, no publish permission, no stream for the subject, another stream — nothing stored', async () => {
    const wrong = await createCredential(world, 'username-password-credentials', {
      username: nats.user.name,
      password: 'wrong-password-3e1d-do-not-leak',
    });
    const limited = await createCredential(world, 'username-password-credentials', {
      username: nats.limited.name,
      password: nats.limited.password,
    });
    await stream('OTHER', ['other.>']);
    const before = (await stored('DEVICES')).length;
    for (const [config, message] of [
      [{ credentialsId: wrong }, 'refused the log-in'],
      [{ credentialsId: limited }, 'may not publish to this subject'],
      [
        { destination: destination({ subject: 'nowhere.#{imsi}' }) },
        'no JetStream stream stores this subject',
      ],
      [
        { destination: destination({ subject: 'other.#{imsi}', stream: 'DEVICES' }) },
        'stored by another stream',
      ],
    ] as const) {
      const { address } = await funnelDevice(world, {
        enabled: true,
        destination: destination(),
        credentialsId: credId,
        contentType: 'json',
        ...config,
      });
      const r = await postFrom(world, address, '{"x":1}');
      expect([r.status, r.json().code]).toEqual([502, 'ERR_FUNNEL_DESTINATION_REFUSED']);
      expect(r.json().message).toContain(message);
      expect(r.body).not.toMatch(/do-not-leak|funnel:|limited:/);
    }
    expect((await stored('DEVICES')).length).toBe(before);
    expect(world.logs.join('\n')).not.toContain('do-not-leak');
    expect(world.logs.join('\n')).not.toContain(nats.limited.password);
  });

  it('delivers every acknowledged message across a server restart under load (duplicates counted)', async () => {
    await stream('LOAD', ['load.>']);
    const devices = await Promise.all(
      [0, 1, 2, 3].map(() =>
        funnelDevice(world, {
          enabled: true,
          destination: destination({ subject: 'load.#{imsi}', stream: 'LOAD' }),
          credentialsId: credId,
          contentType: 'json',
        }),
      ),
    );
    const result = await loadThroughRestart({
      world,
      devices: devices.map((d) => d.address),
      restart: () => nats.restart(),
      before: 150,
      after: 150,
    });
    const messages = await stored('LOAD');
    const { missing, duplicates } = checkAtLeastOnce(
      result.acked,
      messages.map((m) => (m.body.payloads as { seq: number }).seq),
    );
    console.info(
      `funnel nats restart: ${result.acked.size} acknowledged (${result.ackedBeforeRestart} before, ${result.ackedAfterRestart} after the restart), ${result.notAcked} answered ${JSON.stringify([...result.statuses])}, ${messages.length} stored, ${duplicates} duplicates`,
    );
    expect(missing).toEqual([]);
    expect(result.notAcked).toBeGreaterThan(0);
  }, 180_000);

  it('answers 503 while the server is down (nothing acknowledged), and delivers again once it is back', async () => {
    const { address } = await funnelDevice(world, {
      enabled: true,
      destination: destination({ stream: 'DEVICES' }),
      credentialsId: credId,
      contentType: 'json',
    });
    expect((await postFrom(world, address, '{"up":1}')).status).toBe(204);
    await nats.down();
    try {
      const r = await postFrom(world, address, '{"up":2}');
      expect([r.status, r.json().code]).toEqual([503, 'ERR_FUNNEL_DESTINATION_UNAVAILABLE']);
    } finally {
      await nats.up();
    }
    expect((await postFrom(world, address, '{"up":3}')).status).toBe(204);
  }, 60_000);
});
