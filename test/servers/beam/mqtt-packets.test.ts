// The Beam MQTT codec: the framer's limits (MQTT 3.1.1 §2.2.3), the hot path's PUBLISH and PUBACK
// reading and writing (§3.3, §3.4) against mqtt-packet's, and the topic rules (§4.7).

import fc from 'fast-check';
import { generate, type IPublishPacket, type Packet, parser } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  encodePacket,
  MqttDecoder,
  MqttFramer,
  topicFilterProblem,
  topicNameProblem,
} from '../../../src/servers/beam/mqtt-packets.js';

const viaMqttPacket = (bytes: Buffer, version: 4 | 5): Packet => {
  const p = parser({ protocolVersion: version });
  let out: Packet | undefined;
  p.on('packet', (packet: Packet) => {
    out = packet;
  });
  p.parse(bytes);
  if (out === undefined) throw new Error('mqtt-packet read nothing');
  return out;
};

const publish = fc.record({
  topic: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  payload: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  qos: fc.constantFrom(0 as const, 1 as const),
  messageId: fc.integer({ min: 1, max: 65535 }),
  retain: fc.boolean(),
  dup: fc.boolean(),
});

describe('MQTT framer', () => {
  it('cuts whole packets from any split of the stream', () => {
    const packets = [
      generate({ cmd: 'pingreq' }),
      generate({
        cmd: 'publish',
        topic: 'a',
        payload: Buffer.alloc(300, 1),
        qos: 0,
        retain: false,
        dup: false,
      }),
      generate({ cmd: 'puback', messageId: 7 }),
    ];
    const stream = Buffer.concat(packets);
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new MqttFramer(1000);
      const a = framer.push(stream.subarray(0, cut));
      const b = framer.push(stream.subarray(cut));
      if (!Array.isArray(a) || !Array.isArray(b)) throw new Error('refused');
      expect([...a, ...b].map((f) => f.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
      expect(framer.buffered).toBe(0);
    }
  });

  it('refuses an oversize packet from its header alone, and a Remaining Length of five bytes', () => {
    const framer = new MqttFramer(100);
    // 0x30, length 1,000,000: only the header has arrived.
    const big = framer.push(Buffer.from([0x30, 0xc0, 0x84, 0x3d]));
    expect(Array.isArray(big) ? 'frames' : big.code).toBe('MQTT_PACKET_TOO_LARGE');
    const five = new MqttFramer(1 << 30).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(Array.isArray(five) ? 'frames' : five.code).toBe('MQTT_MALFORMED_LENGTH');
  });
});

describe('MQTT 3.1.1 hot path (PUBLISH, PUBACK)', () => {
  it('writes what mqtt-packet writes', () => {
    fc.assert(
      fc.property(publish, (p) => {
        const packet: IPublishPacket = { cmd: 'publish', ...p };
        if (p.qos === 0) delete packet.messageId;
        expect(encodePacket(packet, 4)?.toString('hex')).toBe(
          generate(packet, { protocolVersion: 4 }).toString('hex'),
        );
      }),
      { numRuns: 500 },
    );
    for (const id of [0, 1, 300, 65535]) {
      expect(encodePacket({ cmd: 'puback', messageId: id }, 4)?.toString('hex')).toBe(
        generate({ cmd: 'puback', messageId: id }, { protocolVersion: 4 }).toString('hex'),
      );
    }
  });

  it('reads what mqtt-packet reads', () => {
    fc.assert(
      fc.property(publish, (p) => {
        const packet: IPublishPacket = { cmd: 'publish', ...p };
        if (p.qos === 0) delete packet.messageId;
        const bytes = generate(packet, { protocolVersion: 4 });
        const ours = new MqttDecoder(1 << 20, 4).push(bytes);
        if (!Array.isArray(ours)) throw new Error(ours.message);
        const theirs = viaMqttPacket(bytes, 4) as IPublishPacket;
        const [mine] = ours as IPublishPacket[];
        expect({ ...mine, payload: mine?.payload.toString('hex') }).toMatchObject({
          cmd: theirs.cmd,
          topic: theirs.topic,
          qos: theirs.qos,
          retain: theirs.retain,
          dup: theirs.dup,
          payload: Buffer.from(theirs.payload).toString('hex'),
          ...(theirs.qos > 0 ? { messageId: theirs.messageId } : {}),
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe('topic rules (MQTT 3.1.1 §4.7)', () => {
  it('names carry no wildcard; filters use them as whole levels', () => {
    expect(topicNameProblem('a/b/c', 10)).toBeUndefined();
    for (const bad of ['', 'a/+', 'a/#', 'a\u0000b', 'x'.repeat(11)])
      expect(topicNameProblem(bad, 10)).toBeDefined();
    for (const good of ['a/+/c', '#', 'a/#', '+', '+/+', '/', 'a//b'])
      expect(topicFilterProblem(good, 20)).toBeUndefined();
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/a', 'a\u0000'])
      expect(topicFilterProblem(bad, 20)).toBeDefined();
    // The limit counts UTF-8 bytes, not characters.
    expect(topicNameProblem('é'.repeat(6), 11)).toBeDefined();
  });
});
