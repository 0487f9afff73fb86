// A second process playing the SM-SR of another operator, for soap-node.test.ts:
//   node --import tsx test/servers/esim/soap-peer-process.ts   (config as one JSON line on stdin)
// It prints {"url": …} once listening and stops when its stdin closes.
import { createInterface } from 'node:readline';
import { SUCCESS } from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { SoapNode, type SoapPartner } from '../../../src/servers/esim/soap-node.js';

interface PeerConfig {
  readonly keyPem: string;
  readonly certificatePem: string;
  readonly partner: SoapPartner;
}

const lines = createInterface({ input: process.stdin });
let node: SoapNode | undefined;
lines.once('line', async (line) => {
  const config = JSON.parse(line) as PeerConfig;
  node = await SoapNode.start({
    name: `sm-sr-process-${process.pid}`,
    tls: { keyPem: config.keyPem, certificatePem: config.certificatePem },
    partners: [config.partner],
    handlers: {
      'ES3-SendDataRequest': async (body, ctx) => ({
        status: SUCCESS,
        output: {
          euiccResponseData: new Uint8Array([
            ...new TextEncoder().encode(`${process.pid}:${ctx.peer}:`),
            ...body.data,
          ]),
        },
      }),
    },
  });
  process.stdout.write(`${JSON.stringify({ url: node.url, pid: process.pid })}\n`);
});
lines.once('close', async () => {
  await node?.close();
  process.exit(0);
});
