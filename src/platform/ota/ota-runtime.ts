// The OTA link of a running server (`simtrust serve`): settings checked at start, one SMPP link to
// otaSmppUrl kept bound (keepOtaLink), binds and losses logged, every refused or ignored MO message
// logged with its code (never its bytes).

import type { Logger } from 'pino';
import { SimtrustError } from '../../lib/errors.js';
import type { Platform } from '../platform.js';
import { type EsimSmsReceiver, OtaInbound } from './ota-inbound.js';
import { type KeptLink, keepOtaLink } from './ota-smpp.js';

/** `esim`: the SM-SR's ES5 over SMS, which takes the PoRs and notifications of its eUICCs first. */
export function startOtaLink(platform: Platform, logger: Logger, esim?: EsimSmsReceiver): KeptLink {
  const c = platform.config;
  if (c.otaSmppUrl === undefined || c.otaSmppPassword === undefined || c.otaSmppSourceAddr === undefined)
    throw new SimtrustError(
      'ERR_CONFIG',
      'otaSmppUrl needs otaSmppPassword and otaSmppSourceAddr (docs/configuration.md); set them or unset otaSmppUrl',
    );
  return keepOtaLink(
    {
      url: c.otaSmppUrl,
      systemId: c.otaSmppSystemId,
      password: c.otaSmppPassword,
      sourceAddr: c.otaSmppSourceAddr,
    },
    platform.ota,
    new OtaInbound(platform.store, platform.ota, Date.now, esim),
    (e) =>
      e.kind === 'bound'
        ? logger.info({ url: c.otaSmppUrl }, 'OTA SMPP link bound')
        : logger.warn(
            { url: c.otaSmppUrl, retryMs: e.retryMs, error: e.error },
            'OTA SMPP link lost; reconnecting',
          ),
    (o) => {
      if (o.kind === 'alert') logger.warn({ event: o.event }, 'anti-theft alert verified');
      else if (o.kind === 'refused' || o.kind === 'ignored')
        logger.info({ code: o.code }, 'MO SMS not accepted');
    },
  );
}
