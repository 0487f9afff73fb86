// Where to go after sign-in: the `?next=` of the sign-in page comes from a URL anyone can craft, so
// it is accepted only as a same-origin path inside the console; anything else goes to the SIM list.

export const DEFAULT_NEXT = '/console/sims';
const ORIGIN = 'https://console.invalid';
/** Percent-decodings followed before a path counts as too deeply encoded to be legitimate. */
const MAX_DECODINGS = 3;
/** Path and query characters only: no backslash, no control or space characters, no fragment. */
const PLAIN = /^\/console\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;

export function safeNext(raw: string | null | undefined): string {
  if (typeof raw !== 'string' || raw.length > 2000 || !PLAIN.test(raw) || raw.startsWith('/console//'))
    return DEFAULT_NEXT;
  let url: URL;
  try {
    url = new URL(raw, ORIGIN);
  } catch {
    return DEFAULT_NEXT;
  }
  // Dot segments are resolved by the URL parser: /console/../x is /x, outside the console.
  if (
    url.origin !== ORIGIN ||
    !url.pathname.startsWith('/console/') ||
    url.pathname.startsWith('/console/api/')
  )
    return DEFAULT_NEXT;
  // Encoded separators or dots (%2f, %5c, %2e%2e, or %252e%252e encoded twice) would change meaning
  // if some layer decoded them: every decoding, up to three, must still be a plain path, as the
  // platform's redirect checks require (src/lib/redirect-target.ts).
  let layer = url.pathname;
  for (let i = 0; i <= MAX_DECODINGS; i++) {
    if (/[\\]|\/\/|(^|\/)\.\.?(\/|$)/.test(layer)) return DEFAULT_NEXT;
    let decoded: string;
    try {
      decoded = decodeURIComponent(layer);
    } catch {
      return DEFAULT_NEXT;
    }
    if (decoded === layer) return url.pathname + url.search;
    layer = decoded;
  }
  return DEFAULT_NEXT;
}
