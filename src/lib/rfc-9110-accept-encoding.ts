// RFC 9110 §12.5.3 Accept-Encoding: which of the encodings we hold a file in the client accepts. A
// coding is acceptable when listed (or matched by "*") with a qvalue above 0; "identity" is always
// acceptable unless refused explicitly ("identity;q=0", or "*;q=0" without identity), and preferred
// only when the client names it above the codings we hold. Ties go to the order of `offered` (ours:
// brotli, smaller than gzip). Total: any header string gives an answer, a malformed member is skipped.

export type ContentCoding = 'br' | 'gzip' | 'identity';

/** qvalue of each coding named in the header (lower-case); undefined for a malformed qvalue (ignored). */
function qvalues(header: string): Map<string, number> {
  const q = new Map<string, number>();
  for (const part of header.slice(0, 4096).split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim());
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) continue;
    let value = 1;
    for (const p of params) {
      const m = /^q=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/i.exec(p);
      if (/^q=/i.test(p)) value = m ? Number(m[1]) : Number.NaN;
    }
    // Named twice: the lower value holds (a refusal is never overridden).
    const key = name.toLowerCase();
    if (!Number.isNaN(value)) q.set(key, Math.min(value, q.get(key) ?? 1));
  }
  return q;
}

/** The coding to answer with among `offered` (best first), or identity. */
export function chooseEncoding(
  header: string | undefined,
  offered: readonly Exclude<ContentCoding, 'identity'>[],
): ContentCoding {
  if (typeof header !== 'string' || header.trim() === '') return 'identity';
  const q = qvalues(header);
  const star = q.get('*');
  let best: ContentCoding = 'identity';
  let bestQ = 0;
  for (const coding of offered) {
    const value = q.get(coding) ?? (coding === 'gzip' ? q.get('x-gzip') : undefined) ?? star ?? 0;
    if (value > bestQ) {
      best = coding;
      bestQ = value;
    }
  }
  // Identity not named is acceptable at the lowest preference; named, it competes by its qvalue.
  const identityQ = q.get('identity') ?? star ?? 0.0001;
  return identityQ > bestQ ? 'identity' : best;
}
