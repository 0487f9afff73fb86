// Where to go after sign-in: the `?next=` of the sign-in page comes from a URL anyone can craft, so
// it is accepted only as a same-origin path inside the console; anything else goes to the SIM list.

export const DEFAULT_NEXT = '/console/sims';
const ORIGIN = 'https://console.invalid';
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
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return DEFAULT_NEXT;
  }
  // Encoded separators or dots (%2f, %5c, %2e%2e) would change meaning if some layer decoded them.
  if (/[\\]|\/\/|(^|\/)\.\.?(\/|$)/.test(decoded)) return DEFAULT_NEXT;
  return url.pathname + url.search;
}
