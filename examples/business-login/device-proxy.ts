// A forward HTTP proxy whose outgoing connections start from one address: put in front of a
// browser, it makes every request of the browser come from the simulated device's session
// address (e.g. 127.64.0.7), as if the browser ran on that device and used its data session.
// Chromium: --proxy-server=http://127.0.0.1:PORT --proxy-bypass-list=<-loopback>

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DeviceProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDeviceProxy(localAddress: string): Promise<DeviceProxy> {
  const server: Server = createServer((req, res) => {
    // A proxy request carries the absolute URL (RFC 9112 §3.2.2).
    const target = URL.canParse(req.url ?? '') ? new URL(req.url ?? '') : undefined;
    if (target === undefined || target.protocol !== 'http:') {
      res.writeHead(400).end('absolute http:// URLs only');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const upstream = request(
      {
        host: target.hostname,
        port: target.port || 80,
        path: target.pathname + target.search,
        method: req.method,
        headers,
        localAddress,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
