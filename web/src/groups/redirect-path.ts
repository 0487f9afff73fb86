// The platform's own redirect-path check (src/lib/redirect-target.ts, pure and browser-safe): a URL
// path and each successive percent-decoding of it must stay a plain path — starting with one `/`,
// no control character, backslash or dot segment — so the page and the API give the same verdict.

import { pathLayers } from '../../../src/lib/redirect-target.js';

/** Whether the path and every decoding of it (at most three) is a plain path. */
export const plainPathLayers = (pathname: string): boolean => pathLayers(pathname).ok;
