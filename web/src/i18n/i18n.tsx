// Messages in English and Japanese: the browser's language decides at first, the switch in the header
// after that (remembered in localStorage — a preference, not a secret). Dates in the user's zone.

import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { en, type MessageKey } from './en';
import { ja } from './ja';

export type Language = 'en' | 'ja';
export const LANGUAGES: readonly Language[] = ['en', 'ja'];
const MESSAGES: Record<Language, Record<MessageKey, string>> = { en, ja };
const STORAGE_KEY = 'simtrust.console.language';

export function initialLanguage(stored: string | null, browser: readonly string[]): Language {
  if (stored === 'en' || stored === 'ja') return stored;
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'ja' || base === 'en') return base;
  }
  return 'en';
}

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

interface I18n {
  readonly language: Language;
  readonly setLanguage: (l: Language) => void;
  readonly t: Translate;
  /** A Unix-ms time in the user's zone and language. */
  readonly formatTime: (ms: number) => string;
  readonly formatNumber: (n: number) => string;
}

const I18nContext = createContext<I18n | undefined>(undefined);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setState] = useState<Language>(() =>
    initialLanguage(localStorage.getItem(STORAGE_KEY), navigator.languages ?? [navigator.language]),
  );
  const setLanguage = useCallback((l: Language) => {
    localStorage.setItem(STORAGE_KEY, l);
    document.documentElement.lang = l;
    setState(l);
  }, []);
  const value = useMemo<I18n>(() => {
    document.documentElement.lang = language;
    const time = new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'medium' });
    const number = new Intl.NumberFormat(language);
    return {
      language,
      setLanguage,
      t: (key, values) =>
        MESSAGES[language][key].replace(/\{(\w+)\}/g, (_m, name: string) =>
          String(values?.[name] ?? `{${name}}`),
        ),
      formatTime: (ms) => time.format(new Date(ms)),
      formatNumber: (n) => number.format(n),
    };
  }, [language, setLanguage]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (i18n === undefined) throw new Error('useI18n outside I18nProvider');
  return i18n;
}
