// The gateway's pages: plain server-rendered HTML that works without JavaScript. Accessibility
// (WCAG 2.1): the page language is declared, every field has a <label>, the first field (or the
// one in error) has focus, errors are in a role="alert" region the field points to with
// aria-describedby and aria-invalid, and one-time-code fields carry autocomplete="one-time-code"
// so phones offer the code from the SMS. Everything interpolated is HTML-escaped.

import type { Factor } from '../../platform/mfa/subject.js';
import { duration, type Lang, type MessageKey, type MessageValue, t } from './i18n.js';

export const STYLE_CSS = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;margin:0;background:#f4f6f8;color:#1b1f23}
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin-top:0}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
input[type=text],input[type=password]{width:100%;padding:.6rem;font-size:1rem;border:1px solid #8a939c;border-radius:.3rem}
input[aria-invalid=true]{border-color:#b3261e}
input:focus,button:focus,a:focus{outline:3px solid #1a73e8;outline-offset:2px}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:.3rem;background:#1a4fb3;color:#fff;cursor:pointer}
button.secondary{background:#e8eaed;color:#1b1f23}
.alert{border-left:4px solid #b3261e;background:#fdecea;padding:.7rem;margin:1rem 0}
.info{border-left:4px solid #1a4fb3;background:#e8f0fe;padding:.7rem;margin:1rem 0}
ul.choices{list-style:none;padding:0}
ul.choices li{margin:.5rem 0}
.muted{color:#50575e;font-size:.9rem}
`;

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** Text from the table, escaped; values are escaped too. */
const tx = (lang: Lang, key: MessageKey, values: Readonly<Record<string, MessageValue>> = {}) =>
  escapeHtml(t(lang, key, values));

export interface PageError {
  readonly key: MessageKey;
  readonly values?: Readonly<Record<string, MessageValue>>;
}

function layout(lang: Lang, title: string, body: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title}</title>
<link rel="stylesheet" href="/.simtrust/style.css">
</head>
<body>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`;
}

function alert(lang: Lang, error: PageError | undefined): string {
  return error === undefined
    ? ''
    : `<div id="error" class="alert" role="alert">${tx(lang, error.key, error.values ?? {})}</div>\n`;
}

const invalid = (error: PageError | undefined) =>
  error === undefined ? '' : ' aria-invalid="true" aria-describedby="error"';

const csrfField = (csrf: string) => `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;

export function loginPage(o: {
  lang: Lang;
  csrf: string;
  app: string;
  /** The application's name for people; undefined: the page names none. */
  displayName: string | undefined;
  returnTo: string;
  userId?: string | undefined;
  error?: PageError | undefined;
}): string {
  const userError = o.error?.key === 'error.ERR_INVALID_CREDENTIALS' ? o.error : undefined;
  return layout(
    o.lang,
    tx(o.lang, 'title.login'),
    `<p>${o.displayName === undefined ? tx(o.lang, 'intro.loginUnnamed') : tx(o.lang, 'intro.login', { app: o.displayName })}</p>
${alert(o.lang, o.error)}<form method="post" action="/.simtrust/login">
${csrfField(o.csrf)}
<input type="hidden" name="app" value="${escapeHtml(o.app)}">
<input type="hidden" name="return_to" value="${escapeHtml(o.returnTo)}">
<label for="user_id">${tx(o.lang, 'field.userId')}</label>
<input type="text" id="user_id" name="user_id" autocomplete="username" required autocapitalize="none" spellcheck="false" value="${escapeHtml(o.userId ?? '')}"${invalid(userError)}${o.userId ? '' : ' autofocus'}>
<label for="password">${tx(o.lang, 'field.password')}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${invalid(userError)}${o.userId ? ' autofocus' : ''}>
<button type="submit">${tx(o.lang, 'button.signIn')}</button>
</form>`,
  );
}

export function choosePage(o: {
  lang: Lang;
  csrf: string;
  factors: readonly Factor[];
  phone: string | undefined;
  error?: PageError | undefined;
}): string {
  const items = o.factors
    .map(
      (f, i) =>
        `<li><button type="submit" name="factor" value="${f}"${i === 0 ? ' autofocus' : ''}>${tx(o.lang, `factor.${f}`, { phone: o.phone ?? '' })}</button></li>`,
    )
    .join('\n');
  return layout(
    o.lang,
    tx(o.lang, 'title.choose'),
    `<p>${tx(o.lang, 'intro.choose')}</p>
${alert(o.lang, o.error)}<form method="post" action="/.simtrust/choose">
${csrfField(o.csrf)}
<ul class="choices">
${items}
</ul>
</form>`,
  );
}

function otherMethods(lang: Lang, show: boolean): string {
  return show ? `<p><a href="/.simtrust/choose">${tx(lang, 'link.otherMethod')}</a></p>` : '';
}

export function codePage(o: {
  lang: Lang;
  csrf: string;
  factor: 'sms-otp' | 'totp';
  digits: number;
  sms?: { phone: string; validSeconds: number; status: string } | undefined;
  error?: PageError | undefined;
  notice?: PageError | undefined;
  choice: boolean;
}): string {
  const smsInfo =
    o.sms === undefined
      ? ''
      : `<p class="info" role="status">${tx(o.lang, 'sms.sent', { phone: o.sms.phone, validity: duration(o.sms.validSeconds) })}<br>
<span id="delivery">${tx(o.lang, `sms.status.${o.sms.status}` as MessageKey)}</span> <a href="/.simtrust/factor">${tx(o.lang, 'link.checkStatus')}</a></p>`;
  const resend =
    o.factor === 'sms-otp'
      ? `<form method="post" action="/.simtrust/resend">
${csrfField(o.csrf)}
<button type="submit" class="secondary">${tx(o.lang, 'button.resend')}</button>
</form>`
      : '';
  const notice =
    o.notice === undefined
      ? ''
      : `<p class="info" role="status">${tx(o.lang, o.notice.key, o.notice.values ?? {})}</p>`;
  return layout(
    o.lang,
    tx(o.lang, `title.${o.factor}`),
    `${smsInfo}${notice}
${alert(o.lang, o.error)}<form method="post" action="/.simtrust/factor">
${csrfField(o.csrf)}
<label for="code">${tx(o.lang, `field.${o.factor}`, { digits: o.digits })}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9]*" maxlength="${o.digits}" autocomplete="one-time-code" required autofocus${invalid(o.error)}>
<button type="submit">${tx(o.lang, 'button.verify')}</button>
</form>
${resend}
${otherMethods(o.lang, o.choice)}`,
  );
}

export function simTokenPage(o: {
  lang: Lang;
  continueUrl: string;
  error?: PageError | undefined;
  choice: boolean;
}): string {
  return layout(
    o.lang,
    tx(o.lang, 'title.sim-token'),
    `<p>${tx(o.lang, 'sim.explain')}</p>
${alert(o.lang, o.error)}<p><a id="continue" href="${escapeHtml(o.continueUrl)}" autofocus>${tx(o.lang, 'button.continueSim')}</a></p>
${otherMethods(o.lang, o.choice)}`,
  );
}

export function signedOutPage(o: { lang: Lang; loginUrl: string }): string {
  return layout(
    o.lang,
    tx(o.lang, 'title.signedOut'),
    `<p role="status">${tx(o.lang, 'info.signedOut')}</p>
<p><a href="${escapeHtml(o.loginUrl)}" autofocus>${tx(o.lang, 'link.signInAgain')}</a></p>`,
  );
}

export function logoutPage(o: { lang: Lang; csrf: string; user: string }): string {
  return layout(
    o.lang,
    tx(o.lang, 'button.signOut'),
    `<p>${escapeHtml(o.user)}</p>
<form method="post" action="/.simtrust/logout">
${csrfField(o.csrf)}
<button type="submit" autofocus>${tx(o.lang, 'button.signOut')}</button>
</form>`,
  );
}

export function errorPage(o: { lang: Lang; error: PageError; loginUrl?: string | undefined }): string {
  return layout(
    o.lang,
    tx(o.lang, 'title.error'),
    `${alert(o.lang, o.error)}${o.loginUrl ? `<p><a href="${escapeHtml(o.loginUrl)}" autofocus>${tx(o.lang, 'link.signInAgain')}</a></p>` : ''}`,
  );
}
