// POST /v1/sims/import with Accept: application/x-ndjson: the file is sent as it is (streamed by the
// browser) and the answer is one JSON line per committed batch, then the summary (or an error).

import { apiError, csrfHeaders } from '../api/client';
import type { operations } from '../api/schema';

type Summary = operations['importSims']['responses'][200]['content']['application/json'];
export type ImportSummary = Summary & { readonly code?: string; readonly message?: string };
export interface ImportProgress {
  readonly rows: number;
  readonly created: number;
  readonly unchanged: number;
  readonly rejected: number;
}

type Line =
  | ({ type: 'progress' } & ImportProgress)
  | ({ type: 'summary' } & ImportSummary)
  | { type: 'error'; code: string; message: string };

export async function importCsv(
  file: Blob,
  onProgress: (p: ImportProgress) => void,
  signal?: AbortSignal,
): Promise<ImportSummary> {
  const response = await fetch('/v1/sims/import', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'text/csv', accept: 'application/x-ndjson', ...csrfHeaders() },
    body: file,
    ...(signal ? { signal } : {}),
  });
  if (!response.ok || response.body === null) {
    throw apiError(response, await response.json().catch(() => undefined));
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let summary: ImportSummary | undefined;
  const handle = (text: string) => {
    if (text.trim() === '') return;
    const line = JSON.parse(text) as Line;
    if (line.type === 'progress') onProgress(line);
    else if (line.type === 'summary') summary = line;
    else throw apiError(response, line);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) handle(part);
  }
  handle(buffered);
  if (summary === undefined) throw new Error('the import ended without a summary; import the file again');
  return summary;
}
