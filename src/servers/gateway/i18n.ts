// The gateway's words in English and Japanese, one table; the language follows Accept-Language
// (RFC 9110 §12.5.4: the highest-q range we have, English when none matches). Error messages are
// keyed by the error code, so every refusal the engine can raise has a sentence a person can act on.
// A sentence about a count has a form per CLDR plural category (`{count, forms}`), and a length of
// time is passed as `duration(seconds)`: both are put into words by src/lib/i18n-format.ts, so the
// pages never say "1 more times" or "1 minutes".

import { formatDuration, type PluralForms, plural } from '../../lib/i18n-format.js';

export const LANGUAGES = ['en', 'ja'] as const;
export type Lang = (typeof LANGUAGES)[number];

/** A length of time for a message; shown in words ("30 seconds", "1分30秒"). */
export interface Duration {
  readonly durationSeconds: number;
}
export const duration = (seconds: number): Duration => ({ durationSeconds: seconds });
const isDuration = (v: unknown): v is Duration =>
  typeof v === 'object' && v !== null && 'durationSeconds' in v;

export type MessageValue = string | number | Duration;

/** A sentence whose form depends on the number in `values[count]`. */
interface Counted {
  readonly count: string;
  readonly forms: PluralForms<string>;
}
type Message = string | Counted;

const en = {
  'title.login': 'Sign in',
  'title.choose': 'Confirm it is you',
  'title.sms-otp': 'Enter the code from the SMS',
  'title.totp': 'Enter the code from your authenticator app',
  'title.sim-token': 'Confirm with your SIM',
  'title.signedOut': 'Signed out',
  'title.error': 'Something went wrong',
  'intro.login': 'Sign in to {app}.',
  'intro.loginUnnamed': 'Sign in to continue.',
  'intro.choose': 'Your password is correct. Choose how to confirm your sign-in:',
  'field.userId': 'User ID',
  'field.password': 'Password',
  'field.sms-otp': {
    count: 'digits',
    forms: { one: 'Code from the SMS ({digits} digit)', other: 'Code from the SMS ({digits} digits)' },
  },
  'field.totp': 'Code from your authenticator app (6 digits)',
  'button.signIn': 'Sign in',
  'button.verify': 'Verify',
  'button.resend': 'Send a new code',
  'button.signOut': 'Sign out',
  'button.continueSim': 'Continue with the SIM of this device',
  'link.otherMethod': 'Use another method',
  'link.signInAgain': 'Sign in again',
  'link.checkStatus': 'Check the delivery status',
  'factor.sms-otp': 'A code by SMS to {phone}',
  'factor.totp': 'A code from your authenticator app',
  'factor.sim-token': 'The SIM in your device',
  'sms.sent': 'We sent a code to {phone}. It is valid for {validity}.',
  'sms.status.queued': 'Delivery: the SMS is being sent.',
  'sms.status.accepted': 'Delivery: the SMS was handed to the mobile network.',
  'sms.status.delivered': 'Delivery: the SMS reached your phone.',
  'sms.status.failed': 'Delivery: the SMS could not be delivered. Send a new code or use another method.',
  'sms.status.expired':
    'Delivery: the SMS could not be delivered in time. Send a new code or use another method.',
  'sms.status.unknown': 'Delivery: the network does not know whether the SMS arrived.',
  'sim.explain':
    'Use the device that holds the SIM registered for your account. It asks the platform for a token over its SIM, and you come back here signed in.',
  'info.signedOut': 'You have signed out.',
  'error.ERR_INVALID_CREDENTIALS': 'The user ID or password is incorrect.',
  'error.ERR_TOO_MANY_ATTEMPTS': 'Too many attempts. Try again in {wait}.',
  'error.ERR_OTP_INVALID': {
    count: 'left',
    forms: {
      one: 'The code is incorrect. You can try this code {left} more time.',
      other: 'The code is incorrect. You can try this code {left} more times.',
    },
  },
  'error.ERR_OTP_EXPIRED': 'The code has expired or was already used. Send a new code.',
  'error.ERR_OTP_DEAD': 'Too many incorrect codes: this code no longer works. Send a new code.',
  'error.ERR_INVALID_MFA_CODE': 'The code is incorrect or was already used. Wait for the next code.',
  'error.ERR_SMS_NOT_DELIVERED': 'The SMS could not be sent. Try again later or use another method.',
  'error.ERR_SMS_RESEND_TOO_SOON': 'Please wait {wait} before asking for a new code.',
  'error.ERR_SMS_LIMIT': 'Too many codes were sent. Try again in {wait} or use another method.',
  'error.ERR_PHONE_NOT_VERIFIED': 'No verified phone number is registered for your account.',
  'error.ERR_MFA_NO_FACTOR':
    'Your account has no second factor that this application accepts. Please contact your administrator.',
  'error.ERR_MFA_TRANSACTION': 'Your sign-in has expired or is already finished. Please sign in again.',
  'error.ERR_CSRF': 'This form has expired. Reload the page and try again.',
  'error.ERR_SIM_TOKEN_INVALID':
    'The SIM could not be confirmed. Try again from the device with the registered SIM.',
  'error.ERR_SIM_TOKEN_MISMATCH': 'This SIM or device is not the one registered for your account.',
  'error.ERR_ROUTE_NOT_FOUND': 'This page does not exist.',
  'error.ERR_BAD_REQUEST': 'The request could not be understood. Please start again.',
  'error.generic': 'Something went wrong. Please try again.',
} as const satisfies Record<string, Message>;

export type MessageKey = keyof typeof en;

const ja: Record<MessageKey, Message> = {
  'title.login': 'ログイン',
  'title.choose': '本人確認',
  'title.sms-otp': 'SMSのコードを入力',
  'title.totp': '認証アプリのコードを入力',
  'title.sim-token': 'SIMで確認',
  'title.signedOut': 'ログアウトしました',
  'title.error': 'エラーが発生しました',
  'intro.login': '{app} にログインします。',
  'intro.loginUnnamed': 'ログインして続行してください。',
  'intro.choose': 'パスワードを確認しました。本人確認の方法を選んでください。',
  'field.userId': 'ユーザーID',
  'field.password': 'パスワード',
  'field.sms-otp': { count: 'digits', forms: { other: 'SMSに記載のコード({digits}桁)' } },
  'field.totp': '認証アプリのコード(6桁)',
  'button.signIn': 'ログイン',
  'button.verify': '確認',
  'button.resend': 'コードを再送信',
  'button.signOut': 'ログアウト',
  'button.continueSim': 'この端末のSIMで続ける',
  'link.otherMethod': '別の方法を使う',
  'link.signInAgain': 'もう一度ログイン',
  'link.checkStatus': '配信状況を確認',
  'factor.sms-otp': '{phone} へのSMSコード',
  'factor.totp': '認証アプリのコード',
  'factor.sim-token': '端末のSIM',
  'sms.sent': '{phone} にコードを送信しました。有効期間は{validity}です。',
  'sms.status.queued': '配信状況: SMSを送信しています。',
  'sms.status.accepted': '配信状況: SMSを携帯電話網に渡しました。',
  'sms.status.delivered': '配信状況: SMSが端末に届きました。',
  'sms.status.failed':
    '配信状況: SMSを配信できませんでした。コードを再送信するか、別の方法を使ってください。',
  'sms.status.expired':
    '配信状況: SMSを時間内に配信できませんでした。コードを再送信するか、別の方法を使ってください。',
  'sms.status.unknown': '配信状況: SMSが届いたかどうか不明です。',
  'sim.explain':
    'アカウントに登録されたSIMを挿した端末を使ってください。端末がSIMでプラットフォームからトークンを受け取り、ログインした状態でこの画面に戻ります。',
  'info.signedOut': 'ログアウトしました。',
  'error.ERR_INVALID_CREDENTIALS': 'ユーザーIDまたはパスワードが正しくありません。',
  'error.ERR_TOO_MANY_ATTEMPTS': '試行回数が多すぎます。{wait}後にもう一度お試しください。',
  'error.ERR_OTP_INVALID': {
    count: 'left',
    forms: { other: 'コードが正しくありません。このコードはあと{left}回入力できます。' },
  },
  'error.ERR_OTP_EXPIRED':
    'コードの有効期限が切れているか、すでに使用されています。コードを再送信してください。',
  'error.ERR_OTP_DEAD':
    '誤ったコードが多すぎるため、このコードは無効になりました。コードを再送信してください。',
  'error.ERR_INVALID_MFA_CODE': 'コードが正しくないか、すでに使用されています。次のコードをお待ちください。',
  'error.ERR_SMS_NOT_DELIVERED':
    'SMSを送信できませんでした。しばらくしてから再度お試しいただくか、別の方法を使ってください。',
  'error.ERR_SMS_RESEND_TOO_SOON': '新しいコードを送信できるまで{wait}お待ちください。',
  'error.ERR_SMS_LIMIT':
    '送信したコードが多すぎます。{wait}後に再度お試しいただくか、別の方法を使ってください。',
  'error.ERR_PHONE_NOT_VERIFIED': 'アカウントに確認済みの電話番号が登録されていません。',
  'error.ERR_MFA_NO_FACTOR':
    'このアプリケーションで使える二要素目がアカウントに登録されていません。管理者にお問い合わせください。',
  'error.ERR_MFA_TRANSACTION':
    'ログインの有効期限が切れたか、すでに完了しています。もう一度ログインしてください。',
  'error.ERR_CSRF': 'フォームの有効期限が切れました。ページを再読み込みして、もう一度お試しください。',
  'error.ERR_SIM_TOKEN_INVALID': 'SIMを確認できませんでした。登録されたSIMの端末からもう一度お試しください。',
  'error.ERR_SIM_TOKEN_MISMATCH': 'このSIMまたは端末は、アカウントに登録されたものではありません。',
  'error.ERR_ROUTE_NOT_FOUND': 'このページは存在しません。',
  'error.ERR_BAD_REQUEST': 'リクエストを処理できませんでした。最初からやり直してください。',
  'error.generic': 'エラーが発生しました。もう一度お試しください。',
};

const TABLE: Readonly<Record<Lang, Readonly<Record<MessageKey, Message>>>> = { en, ja };

function show(lang: Lang, value: MessageValue): string {
  return isDuration(value) ? formatDuration(lang, value.durationSeconds) : String(value);
}

export function t(lang: Lang, key: MessageKey, values: Readonly<Record<string, MessageValue>> = {}): string {
  const message = TABLE[lang][key];
  const text =
    typeof message === 'string' ? message : plural(lang, Number(values[message.count]), message.forms);
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : show(lang, value);
  });
}

/** The seconds of a duration value (a Retry-After header beside the sentence). */
export function durationSeconds(value: MessageValue | undefined): number | undefined {
  return isDuration(value) ? value.durationSeconds : undefined;
}

export function hasMessage(key: string): key is MessageKey {
  return key in en;
}

/** RFC 9110 §12.5.4 Accept-Language: the supported language with the highest q (ties: first listed). */
export function negotiateLanguage(header: string | undefined): Lang {
  if (!header) return 'en';
  let best: { lang: Lang; q: number } | undefined;
  for (const part of header.split(',').slice(0, 20)) {
    const [range = '', ...params] = part.trim().split(';');
    const q = Number(
      params
        .find((p) => p.trim().startsWith('q='))
        ?.trim()
        .slice(2) ?? '1',
    );
    const primary = range.trim().toLowerCase().split('-')[0];
    const lang = LANGUAGES.find((l) => l === primary);
    if (lang === undefined || !Number.isFinite(q) || q <= 0) continue;
    if (best === undefined || q > best.q) best = { lang, q };
  }
  return best?.lang ?? 'en';
}
