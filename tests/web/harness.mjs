// What the browser tests of the case report share (report.mjs,
// e2e-report.mjs): "ok"/"FAIL" lines with a closing count, and Debian's
// Chromium started headless by playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';

// const t = checker('report'); t.check('name', cond, detail); t.done();
export function checker(name) {
  let passed = 0, failed = 0;
  return {
    check(what, cond, detail) {
      if (cond) { passed++; console.log('ok   ' + what); }
      else { failed++; console.log('FAIL ' + what + (detail !== undefined ? ': ' + detail : '')); }
    },
    done() {
      console.log(name + ': ' + passed + ' passed, ' + failed + ' failed');
      process.exit(failed ? 1 : 0);
    },
  };
}

// A persistent context in profileDir, or null after a FAIL line.
export async function launch(t, profileDir, options = {}) {
  try {
    return await chromium.launchPersistentContext(profileDir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      colorScheme: 'light',
      ...options,
    });
  } catch (e) {
    t.check('Chromium starts', false, e.message.split('\n')[0]);
    return null;
  }
}
