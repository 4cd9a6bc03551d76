// End-to-end test of the `tpmdiag serve` page in Debian's headless Chromium,
// driven by playwright-core (no browser download: executablePath).
//
//   node tests/web/e2e.mjs http://127.0.0.1:PORT/ SHOT_DIR [DOCS_SHOT]
//
// Run from the source root (it reads samples/). Prints one "ok"/"FAIL" line per
// check and a final "e2e: N passed, N failed"; exits 1 on any failure.
// tests/web.test.sh starts the server and runs this.
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { gzipSync } from 'node:zlib';

const [base, shotDir, docsShot] = process.argv.slice(2);
if (!base || !shotDir) {
  console.error('usage: node e2e.mjs BASE_URL SHOT_DIR [DOCS_SHOT]');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok   ' + name); }
  else { failed++; console.log('FAIL ' + name + (detail !== undefined ? ': ' + detail : '')); }
}
async function step(name, fn) {
  try { await fn(); } catch (e) { check(name, false, e.message.split('\n')[0]); }
}

const seed = readFileSync('samples/seed-failing/vmkernel.log', 'utf8') + readFileSync('samples/seed-failing/hostd.log', 'utf8');
const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_FLAG = '<img src=x onerror="window.__pwned=1">';
const XSS_SCRIPT = '<script>window.__pwned2=1</script>';
const xssPaste = [
  '2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) ' + XSS_IMG,
  'tpmDriver: Tpm2CheckInterface:615: TPM does not appear to be speaking the 2.0 protocol (interfaceType = 0xf). ' + XSS_FLAG,
  '2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] Unable to provision default rsa endorsement key. ' + XSS_SCRIPT,
].join('\n') + '\n';

const userDataDir = mkdtempSync(join(tmpdir(), 'tpmdiag-e2e-'));
const started = Date.now();
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
  });
} catch (e) {
  console.log('FAIL cannot start Chromium at ' + executablePath + ': ' + e.message.split('\n')[0]);
  console.log('e2e: 0 passed, 1 failed');
  rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}

const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(10000);
const dialogs = [];
const pageErrors = [];
const consoleErrors = [];
page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
// Any request off this origin would be an external source (CDN, font).
const offOrigin = [];
const origin = new URL(base).origin;
page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) offOrigin.push(r.url()); });
// Counts CSP violations (an inline handler that got into the DOM would be one).
await context.addInitScript(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
});

async function diagnoseText(text, how) {
  await page.fill('#logs', text);
  const response = page.waitForResponse((r) => r.url().endsWith('/api/diagnose'));
  if (how === 'keyboard') {
    await page.focus('#logs');
    await page.keyboard.press('Control+Enter');
  } else {
    await page.click('#diagnose');
  }
  const res = await response;
  await page.waitForSelector('#verdict');
  return res;
}

try {
  // 1. The page and its headers.
  await step('page loads', async () => {
    const res = await page.goto(base, { waitUntil: 'networkidle' });
    check('GET / answers 200', res.status() === 200, res.status());
    const csp = res.headers()['content-security-policy'] || '';
    check('CSP forbids inline script and external sources',
      /script-src 'self'/.test(csp) && /default-src 'none'/.test(csp) && !/unsafe-inline/.test(csp), csp);
    check('page has a labelled paste area', await page.locator('label[for=logs]').count() === 1);
    check('page has a labelled file input', await page.locator('label[for=files]').count() === 1);
    check('version shown from /healthz', /^v\d/.test(await page.textContent('#version')));
  });

  // 2. The seed case: pasted lines -> the tpm_firmware_outdated card with evidence.
  await step('seed diagnosis', async () => {
    const res = await diagnoseText(seed, 'click');
    check('POST /api/diagnose answers 200 on a problem', res.status() === 200, res.status());
    check('verdict banner says problem', (await page.textContent('#verdict .verdict-label')).includes('Problem found'));
    const top = page.locator('#finding-0');
    check('first card is tpm_firmware_outdated', (await top.locator('.cause-id').textContent()) === 'tpm_firmware_outdated');
    check('card shows the title', (await top.locator('.card-title').textContent()).includes('TPM module firmware'));
    check('card shows a confidence', /^\d+%$/.test(await top.locator('.confidence-value').textContent()));
    const ev = await top.locator('.lines > li').allTextContents();
    check('evidence has the CreatePrimary (0x9a2) line', ev.some((t) => t.includes('CreatePrimary: (0x9a2)')), ev.length);
    check('evidence shows file:line', (await top.locator('.loc').allTextContents()).every((t) => /^pasted:\d+$/.test(t)));
    check('return code decoded (TPM_RC_BAD_AUTH, session 1)',
      (await top.locator('.rc').allTextContents()).some((t) => t.includes('TPM_RC_BAD_AUTH') && t.includes('session 1')));
    check('fix steps listed', await top.locator('ol.fix > li').count() >= 2);
    const rels = await top.locator('.refs a').evaluateAll((as) => as.map((a) => a.getAttribute('rel') + '|' + a.getAttribute('target')));
    check('references are links with rel="noopener noreferrer"', rels.length > 0 && rels.every((r) => r === 'noopener noreferrer|_blank'), rels.join(','));
    check('harmless lines explained (NV_ReadPublic 0x18b)',
      (await page.locator('.benign .lines > li').allTextContents()).some((t) => t.includes('NV_ReadPublic') && t.includes('TPM_RC_HANDLE')));
    check('other causes shown as cards', await page.locator('.card').count() >= 2);
    // Laptop-sized screenshot for the README.
    mkdirSync(shotDir, { recursive: true });
    await page.evaluate(() => { window.scrollTo(0, 0); document.getElementById('logs').scrollTop = 0; });
    const shot = join(shotDir, 'web-seed.png');
    await page.screenshot({ path: shot });
    check('screenshot saved: ' + shot, true);
    if (docsShot) {
      mkdirSync(dirname(docsShot), { recursive: true });
      copyFileSync(shot, docsShot);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(400);  // let colour transitions finish
    await page.screenshot({ path: join(shotDir, 'web-seed-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  // 3. Raw JSON and the rc context button.
  await step('raw JSON', async () => {
    await page.click('#verdict button:has-text("Raw JSON")');
    check('raw JSON opens', await page.locator('#raw-json').evaluate((d) => d.open));
    const raw = JSON.parse(await page.textContent('#raw-json pre'));
    check('raw JSON is the report (schema_version, findings[0].cause)',
      raw.schema_version === 2 && raw.findings[0].cause === 'tpm_firmware_outdated');
    const dl = await page.getAttribute('#verdict a[download]', 'href');
    check('download link is a blob URL', /^blob:/.test(dl || ''), dl);
  });
  await step('rc context', async () => {
    const btn = page.locator('#finding-0 .rc button').nth(1);
    await btn.click();
    await page.waitForSelector('#finding-0 .rc-context li', { timeout: 5000 });
    check('"On ESXi" loads /api/rc context', (await page.locator('#finding-0 .rc-context').nth(1).textContent()).includes('tpm_firmware_outdated'));
  });

  // 4. Keyboard: Ctrl+Enter diagnoses; the result heading takes focus.
  await step('keyboard', async () => {
    await page.click('#clear');
    check('Clear empties the paste area and focuses it',
      (await page.inputValue('#logs')) === '' && await page.evaluate(() => document.activeElement.id) === 'logs');
    await diagnoseText(readFileSync('samples/seed-paste/pasted.txt', 'utf8'), 'keyboard');
    check('Ctrl+Enter diagnoses', (await page.locator('.cause-id').allTextContents()).includes('ek_certificate_missing'));
    check('focus moves to the verdict', await page.evaluate(() => document.activeElement.id) === 'verdict-heading');
    check('an uncertain top cause says so and folds its fix', (await page.textContent('#report')).includes('Uncertain.') &&
      await page.locator('#finding-0 details.fix-folded').count() === 1);
    await page.click('#clear');
    await page.click('#diagnose');
    check('empty input explains itself', (await page.textContent('#status')).includes('Nothing to diagnose'));
  });

  // 5. Uploads: a .gz file; a hostile file name.
  await step('upload', async () => {
    await page.click('#clear');
    await page.setInputFiles('#files', [
      { name: 'hostd.0.gz', mimeType: 'application/gzip', buffer: gzipSync(readFileSync('samples/seed-failing/hostd.log')) },
      { name: 'vmkernel.log', mimeType: 'text/plain', buffer: readFileSync('samples/seed-failing/vmkernel.log') },
    ]);
    check('chosen files listed', (await page.locator('#file-list li').count()) === 2);
    const response = page.waitForResponse((r) => r.url().endsWith('/api/diagnose'));
    await page.click('#diagnose');
    check('multipart upload answers 200', (await response).status() === 200);
    await page.waitForSelector('#finding-0');
    check('.gz upload diagnosed', (await page.locator('#finding-0 .cause-id').textContent()) === 'tpm_firmware_outdated');
    check('evidence names the uploaded files', (await page.locator('#finding-0 .loc').allTextContents()).some((t) => t.startsWith('hostd.0.gz:')));
  });

  // 6. Untrusted text is shown as text: no script runs, nothing is parsed as HTML.
  await step('xss', async () => {
    await page.click('#clear');
    await page.setInputFiles('#files', [{ name: XSS_IMG + '.log', mimeType: 'text/plain', buffer: Buffer.from(xssPaste) }]);
    check('hostile file name shown literally in the file list', (await page.textContent('#file-list')).includes(XSS_IMG + '.log'));
    await page.fill('#logs', xssPaste);
    const response = page.waitForResponse((r) => r.url().endsWith('/api/diagnose'));
    await page.click('#diagnose');
    await response;
    await page.waitForSelector('#verdict');
    await page.waitForTimeout(300);
    const text = await page.textContent('#report');
    check('the <img onerror> text is displayed literally', text.includes(XSS_IMG) && text.includes(XSS_FLAG) && text.includes(XSS_SCRIPT));
    check('it is shown as evidence', (await page.locator('.card .line-text').allTextContents()).some((t) => t.includes(XSS_IMG)));
    check('hostile file name shown literally as file:line', (await page.locator('.loc').allTextContents()).some((t) => t.startsWith(XSS_IMG + '.log:')));
    check('no element was made from log text (no img/script in the report)',
      await page.locator('#report img, #report script, #file-list img').count() === 0);
    check('no dialog opened', dialogs.length === 0, dialogs.join(','));
    check('no script ran (window flags unset)', await page.evaluate(() => window.__pwned === undefined && window.__pwned2 === undefined));
    const violations = await page.evaluate(() => window.__cspViolations);
    check('no CSP violation was even attempted', violations.length === 0, violations.join(', '));
  });

  check('no script errors on the page', pageErrors.length === 0, pageErrors.join(' | '));
  check('no console errors', consoleErrors.length === 0, consoleErrors.join(' | '));
  check('no request left the origin (no CDN, no fonts)', offOrigin.length === 0, offOrigin.join(', '));
} finally {
  await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`e2e: ${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
