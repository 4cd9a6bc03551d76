// The web page's case-report parts (issue 17) in headless Chromium: the
// timeline strip, the Redact switch, "Download report (HTML)" (the same file
// `tpmdiag diagnose --format html` writes) and the print stylesheet.
//
//   node tests/web/e2e-report.mjs http://127.0.0.1:PORT/ PATH-TO-tpmdiag
//
// The server must run with the SOURCE_DATE_EPOCH this script is given, so
// that both reports name the same time. Run from the source root;
// tests/web.test.sh runs it after e2e.mjs.
import { checker, launch } from './harness.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, bin] = process.argv.slice(2);
if (!base || !bin) {
  console.error('usage: node e2e-report.mjs BASE_URL PATH-TO-tpmdiag');
  process.exit(2);
}
const t = checker('e2e-report');
const check = t.check;
const PROOF = 'Successfully provisioned endorsement key';
const resolvedText = ['samples/seed-failing/vmkernel.log', 'samples/seed-failing/hostd.log', 'samples/seed-fixed/hostd.log']
  .map((f) => readFileSync(f, 'utf8')).join('');
const namedText = readFileSync('samples/formats/rfc5424/messages.log', 'utf8');  // host esx01.lab in every header

const work = mkdtempSync(join(tmpdir(), 'tpmdiag-e2e-report-'));
const context = await launch(t, join(work, 'profile'), { acceptDownloads: true, viewport: { width: 1366, height: 900 } });
if (!context) {
  rmSync(work, { recursive: true, force: true });
  t.done();
}

async function diagnose(page, text, redact) {
  await page.fill('#logs', text);
  if ((await page.isChecked('#redact')) !== redact) await page.click('label[for=redact]');
  const response = page.waitForResponse((r) => r.url().includes('/api/diagnose'));
  await page.click('#diagnose');
  await response;
  await page.waitForSelector('#verdict');
}

try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(base, { waitUntil: 'networkidle' });

  // Timeline strip: the seed, failing then fixed.
  await diagnose(page, resolvedText, false);
  check('timeline strip drawn', await page.locator('svg.timeline-strip').count() === 1);
  const titles = await page.locator('svg.timeline-strip g.is-proof title').allTextContents();
  check('strip marks the proof line "fix proven"', titles.some((t) => t.includes(PROOF)) &&
    (await page.locator('svg.timeline-strip text.proof-label').count()) === 1, titles.join(' | '));
  check('strip rings the top cause\'s evidence', await page.locator('svg.timeline-strip g.is-top').count() >= 3);
  check('host facts on the page (TPM vendor IFX)', (await page.textContent('dl.host-facts')).includes('IFX'));

  // Redact switch.
  await diagnose(page, namedText, false);
  check('without Redact the host name shows', (await page.textContent('#report')).includes('esx01.lab'));
  await diagnose(page, namedText, true);
  const redacted = await page.textContent('#report');
  check('Redact: no host name left, tokens instead', !redacted.includes('esx01') && redacted.includes('host-1'));

  // Download report (HTML): the file the CLI writes for the same input.
  const download = page.waitForEvent('download');
  await page.click('#download-html');
  const file = await download;
  const saved = join(work, 'download.html');
  await file.saveAs(saved);
  writeFileSync(join(work, 'pasted'), namedText);
  let cli = '';
  try {
    cli = execFileSync(bin, ['diagnose', '--format', 'html', '--redact', 'pasted'],
      { cwd: work, env: { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH || '' }, encoding: 'utf8' });
  } catch (e) { cli = e.stdout || ''; }  // exit 1: a problem was found
  const got = readFileSync(saved, 'utf8');
  check('Download report (HTML) is the file "tpmdiag diagnose --format html --redact" writes',
    file.suggestedFilename() === 'tpmdiag-report.html' && got.length > 1000 && got === cli,
    file.suggestedFilename() + ', ' + got.length + ' vs ' + cli.length + ' bytes');

  // Print: the diagnosis only, folded parts open.
  await page.emulateMedia({ media: 'print' });
  check('print hides the input panel', !(await page.isVisible('.input-panel')));
  check('print opens the folded inputs table', await page.locator('details.inputs table').isVisible());
  await page.emulateMedia({ media: 'screen' });
  check('no page errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  check('report checks ran', false, e.message.split('\n')[0]);
} finally {
  await context.close();
  rmSync(work, { recursive: true, force: true });
}
t.done();
