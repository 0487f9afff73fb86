// A Vite plugin that writes each text file of the console's build beside itself as .br (brotli, best
// quality) and .gz (gzip -9), with node:zlib — no further dependency — so the platform serves them
// as they are with Content-Encoding (src/servers/http/plugins/console.ts) and compresses nothing per
// request. It prints the bundle's budget: every file, and what a cold load of the SIM list costs
// (index.html, its entry script and styles) raw, gzip and brotli.

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

/** What is worth compressing (images and fonts are compressed already). */
export const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);

export interface Sizes {
  readonly raw: number;
  readonly gzip: number;
  readonly br: number;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** Writes `file.br` and `file.gz` for each compressible file of `dir`; their sizes by relative path. */
export function precompressDir(dir: string): Map<string, Sizes> {
  const sizes = new Map<string, Sizes>();
  for (const file of walk(dir)) {
    if (!COMPRESSIBLE.has(extname(file))) continue;
    const body = readFileSync(file);
    const br = brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
    const gz = gzipSync(body, { level: 9 });
    writeFileSync(`${file}.br`, br);
    writeFileSync(`${file}.gz`, gz);
    sizes.set(relative(dir, file).split('\\').join('/'), {
      raw: body.length,
      gzip: gz.length,
      br: br.length,
    });
  }
  return sizes;
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'simtrust-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    closeBundle() {
      const sizes = precompressDir(outDir);
      const sum = (paths: Iterable<string>) => {
        const total = { raw: 0, gzip: 0, br: 0 };
        for (const p of paths) {
          const s = sizes.get(p);
          if (s === undefined) continue;
          total.raw += s.raw;
          total.gzip += s.gzip;
          total.br += s.br;
        }
        return total;
      };
      // A cold load: index.html and what it names directly (the entry script, its styles).
      const index = readFileSync(join(outDir, 'index.html'), 'utf8');
      const cold = [
        'index.html',
        ...[...index.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1] ?? ''),
      ];
      const all = sum(sizes.keys());
      const first = sum(cold);
      const line = (label: string, t: Sizes) =>
        `  ${label.padEnd(28)} ${kib(t.raw).padStart(10)} raw  ${kib(t.gzip).padStart(10)} gzip  ${kib(t.br).padStart(10)} brotli`;
      console.log(
        [
          'console budget (served precompressed: .br and .gz beside each file):',
          line(`cold load (${cold.length} files)`, first),
          line(`all ${sizes.size} text files`, all),
        ].join('\n'),
      );
    },
  };
}
