// Counts and lengths of time in words for texts people read (the gateway's pages, the OTP SMS): one
// helper, so no text says "1 more times" or "expires in 1 minutes" for a 30-second code. Plural
// forms follow the CLDR plural rules of the language (Intl.PluralRules: English has `one` and
// `other`, Japanese only `other`); units are CLDR's long unit names (Intl.NumberFormat unit style)
// joined as a unit list (Intl.ListFormat), so 90 s reads "1 minute, 30 seconds" and "1分30秒".

/** The forms of a counted phrase by CLDR plural category; `other` is the one every language has. */
export type PluralForms<T> = Readonly<Partial<Record<Intl.LDMLPluralRule, T>>> & { readonly other: T };

const pluralRules = new Map<string, Intl.PluralRules>();
const unitFormats = new Map<string, Intl.NumberFormat>();
const unitLists = new Map<string, Intl.ListFormat>();

function cached<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** The form of `forms` that `count` takes in `lang`. */
export function plural<T>(lang: string, count: number, forms: PluralForms<T>): T {
  const rules = cached(pluralRules, lang, () => new Intl.PluralRules(lang));
  return forms[rules.select(count)] ?? forms.other;
}

const UNITS = [
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
] as const;

/** CJK languages write a number and its unit together ("30秒"); CLDR's long form puts a space. */
const JOINED = new Set(['ja', 'zh', 'ko']);
const joined = (lang: string) => JOINED.has(lang.split('-')[0] ?? lang);

function unit(lang: string, name: (typeof UNITS)[number][0], count: number): string {
  const format = cached(
    unitFormats,
    `${lang}:${name}`,
    () => new Intl.NumberFormat(lang, { style: 'unit', unit: name, unitDisplay: 'long' }),
  );
  if (!joined(lang)) return format.format(count);
  return format
    .formatToParts(count)
    .filter((p) => !(p.type === 'literal' && p.value.trim() === ''))
    .map((p) => p.value)
    .join('');
}

/**
 * A length of time in words: whole seconds (a fraction rounds up — a wait is never shorter than
 * said), in days, hours, minutes and seconds, leaving out the parts that are zero.
 */
export function formatDuration(lang: string, seconds: number): string {
  let left = Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : 0;
  const parts: string[] = [];
  for (const [name, size] of UNITS) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0) parts.push(unit(lang, name, count));
  }
  if (parts.length === 0) return unit(lang, 'second', 0);
  const list = cached(
    unitLists,
    lang,
    () => new Intl.ListFormat(lang, { type: 'unit', style: joined(lang) ? 'narrow' : 'long' }),
  );
  return list.format(parts);
}
