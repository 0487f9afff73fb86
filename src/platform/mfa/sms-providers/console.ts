// The `console` provider: writes the message to the terminal instead of sending it, so `simtrust up
// --demo` shows a working SMS login without an SMS account. Refused outside demo mode: a real
// deployment must never put one-time codes on stdout.

import { Type } from '@fastify/type-provider-typebox';
import { maskPhone } from '../phone.js';
import type { SmsProvider, SmsProviderKind } from './provider.js';
import { SmsProviderError } from './provider.js';

export const ConsoleConfig = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 40 }), kind: Type.Literal('console') },
  { additionalProperties: false },
);

export const consoleKind: SmsProviderKind = {
  kind: 'console',
  configSchema: ConsoleConfig,
  errorCodes: {
    CONSOLE_NOT_DEMO: { description: 'The console provider works only in demo mode.', providerDown: true },
  },
  create(config, context): SmsProvider {
    let counter = 0;
    return {
      kind: 'console',
      name: String(config.name),
      healthy: () => context.demo,
      close: async () => {},
      async send(message) {
        if (!context.demo) throw new SmsProviderError('CONSOLE_NOT_DEMO', 'console SMS only in demo mode');
        context.write(`[demo SMS to ${maskPhone(message.to)}] ${message.text}\n`);
        return { providerMessageId: `console-${++counter}`, accepted: true };
      },
    };
  },
};
