// Phone numbers in ITU-T E.164 form: `+`, a country code and the subscriber number, at most 15
// digits in all (E.164 §6.1). Input may carry spaces, dots, hyphens and parentheses, which are
// dropped; anything else is refused, so one number has one stored form (the per-number SMS limit
// counts on it).

import { err, ok, type Result } from '../../lib/result.js';

export interface PhoneError {
  readonly code: 'PHONE_FORMAT';
  readonly message: string;
}

export function parseE164(input: string): Result<string, PhoneError> {
  const compact = input.trim().replace(/[\s.()-]/g, '');
  if (!/^\+[1-9]\d{1,14}$/.test(compact)) {
    return err({
      code: 'PHONE_FORMAT',
      message: 'expected an E.164 number: + then the country code and number (at most 15 digits)',
    });
  }
  return ok(compact);
}

/** A number fit for logs and pages: the country code and the last two digits. */
export function maskPhone(e164: string): string {
  return e164.length <= 6 ? '+…' : `${e164.slice(0, 3)}…${e164.slice(-2)}`;
}

/**
 * Japanese national form (`+819012345678` → `09012345678`), as Japanese SMS APIs such as Karaden
 * expect it. Numbers of other countries are returned without the `+`.
 */
export function nationalJp(e164: string): string {
  return e164.startsWith('+81') ? `0${e164.slice(3)}` : e164.slice(1);
}
