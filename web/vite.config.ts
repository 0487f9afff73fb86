// The console's build: served by the platform at /console/ (src/servers/http/plugins/console.ts),
// hashed assets under assets/, no inline script (the page's Content-Security-Policy forbids it), each
// text file also written as .br and .gz (precompress.ts), which prints the bundle's budget.

import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompress } from './precompress.js';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080', '/console/api': 'http://127.0.0.1:8080' } },
});
