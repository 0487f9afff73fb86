// A second deployment playing the SM-SR of another operator for soap-ports.test.ts: the real SM-SR
// service (sm-sr-service.ts) on its own test database with the software eUICC behind its ES5
// transport (the SM-DP fixture's bench), reachable only through a SoapNode whose handlers come from
// soap-dispatch.ts — the same port objects an in-process SM-DP gets.
//   node --import tsx test/servers/esim/soap-smsr-process.ts   (config as one JSON line on stdin)
// It prints one JSON line (its URL and the PKI material the SM-DP needs: CI, EUM, SM-DP certificate
// and key) once listening, answers an 'attach' line with {attached}, and stops when its stdin closes.
import { createInterface } from 'node:readline';
import { toHex } from '../../../src/lib/hex.js';
import { soapEs3Notifications } from '../../../src/platform/esim/es-soap/port-clients.js';
import type { SmDp } from '../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { soapHandlersFor } from '../../../src/servers/esim/soap-dispatch.js';
import { SoapNode, type SoapPartner } from '../../../src/servers/esim/soap-node.js';
import { dpBench, SMDP_ID } from '../../platform/esim/sm-dp/fixture.js';

interface Config {
  readonly keyPem: string;
  readonly certificatePem: string;
  /** The SM-DP (name = its entity id). */
  readonly partner: SoapPartner;
}

const lines = createInterface({ input: process.stdin });
let stop: (() => Promise<void>) | undefined;
lines.once('line', async (line) => {
  const config = JSON.parse(line) as Config;
  const b = await dpBench();
  let node: SoapNode | undefined;
  // The SM-SR's notifications for this SM-DP go back over SOAP instead of to the bench's own SM-DP.
  b.smdp = {
    es3Notifications: () => soapEs3Notifications(node as SoapNode, { partner: SMDP_ID }),
  } as unknown as SmDp;
  node = await SoapNode.start({
    name: `sm-sr-process-${process.pid}`,
    log: { warn: (o, m) => console.error(m, o) },
    tls: { keyPem: config.keyPem, certificatePem: config.certificatePem },
    partners: [config.partner],
    handlers: soapHandlersFor({ es3: (peer) => b.smsr.es3For(peer.entityId) }, (name) =>
      name === SMDP_ID ? { entityId: SMDP_ID, role: 'sm-dp' } : undefined,
    ),
  });
  // 'attach': once the SM-SR waits for the card's notification (after an Enable's REFRESH), the card
  // restarts and attaches; its notification reaches the SM-SR, which notifies the SM-DP over SOAP.
  lines.on('line', async (command) => {
    if (command !== 'attach') return;
    const waiting = async () =>
      (
        await b.db.store.db
          .selectFrom('esim_sr_procedures')
          .select('step')
          .where('active_eid', 'is not', null)
          .executeTakeFirst()
      )?.step === 'awaiting-notification';
    for (let i = 0; i < 1500 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 20));
    process.stdout.write(`${JSON.stringify({ attached: await b.attach() })}\n`);
  });
  stop = async () => {
    await node?.close();
    await b.db.cleanup();
  };
  process.stdout.write(
    `${JSON.stringify({
      url: node.url,
      pid: process.pid,
      ciPem: b.pki.ci.pem,
      eumPem: b.pki.eum.pem,
      smdpCertificate: toHex(b.pki.smdp.certificate),
      smdpKeyPem: b.pki.smdp.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    })}\n`,
  );
});
lines.once('close', async () => {
  await stop?.();
  process.exit(0);
});
