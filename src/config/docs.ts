// Renders docs/configuration.md and docs/errors.md from the defaults module and the error catalogue.
// `npm run docs` writes them; test/config/docs.test.ts fails when a file is out of step.

import { ERROR_CODES } from '../lib/errors.js';
import { SETTINGS } from './defaults.js';
import { envName, flagName, type Setting } from './setting.js';

function showDefault(setting: Setting<unknown>): string {
  if (setting.default === undefined) return '(none)';
  if (setting.secret && !setting.placeholder) return '(secret)';
  return `\`${JSON.stringify(setting.default)}\``;
}

export function renderConfigurationDoc(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const setting = s as Setting<unknown>;
    const flag = setting.secret ? '—' : `\`${flagName(name)}\``;
    const notes = [setting.doc, setting.secret ? '**Secret**: never logged or printed.' : '']
      .filter(Boolean)
      .join(' ');
    return `| \`${name}\` | \`${envName(name)}\` | ${flag} | ${showDefault(setting)} | ${notes.replaceAll('|', '\\|')} |`;
  });
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/defaults.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every setting can come from, highest priority first: a command-line flag of `simtrust serve` / `simtrust up`,',
    'an environment variable, a JSON config file (`--config FILE` or `SIMTRUST_CONFIG`, keys as in the first',
    'column), or the default below. Values are validated at start; a bad value stops the process with a message',
    'naming the setting. Secrets have no flag, so they never show in the process list.',
    '',
    '| setting | environment variable | flag | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) =>
      `| \`${code}\` | ${spec.status} | ${spec.expose ? 'yes' : 'no'} | ${spec.description.replaceAll('|', '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/lib/errors.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every API error answers `{"code": "ERR_…", "message": "…"}` with the HTTP status below. The code is stable;',
    'the message is for people. When "message shown" is no, the message is a generic text and the details are',
    'in the server log under the same request id (`x-request-id` header). The CLI prints the code too.',
    '',
    '| code | HTTP status | message shown | meaning and what to do |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
