// npm run docs: regenerates the documentation pages that are derived from code.
import { writeFileSync } from 'node:fs';
import { renderConfigurationDoc, renderErrorsDoc } from '../src/config/docs.js';

writeFileSync('docs/configuration.md', renderConfigurationDoc());
writeFileSync('docs/errors.md', renderErrorsDoc());
console.log('wrote docs/configuration.md and docs/errors.md');
