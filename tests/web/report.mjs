// The case report in headless Chromium and a CommonMark parser (issue 17;
// tests/report.test.sh writes the reports and runs this).
//
//   node tests/web/report.mjs DIR [DOCS_SHOT]
//
// DIR holds seed.html (failing + fixed seed), xss.html (hostile lines),
// md/NAME.md with md/NAME.json for every scenario. Prints one "ok"/"FAIL"
// line per check; exits 1 on any failure.
import { checker, launch } from './harness.mjs';
import MarkdownIt from 'markdown-it';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, docsShot] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node report.mjs DIR [DOCS_SHOT]');
  process.exit(2);
}
const t = checker('report');
const check = t.check;
const PROOF = 'Successfully provisioned endorsement key';

// --- Markdown: every scenario parses, holds its top cause and evidence ------
const md = new MarkdownIt({ html: true });  // raw HTML allowed: none may come from us
const walk = (tokens, fn) => tokens.forEach((t) => { fn(t); if (t.children) walk(t.children, fn); });
let mdFiles = 0, mdBad = [];
for (const f of readdirSync(join(dir, 'md')).filter((n) => n.endsWith('.md')).sort()) {
  const name = f.replace(/\.md$/, '');
  const text = readFileSync(join(dir, 'md', f), 'utf8');
  const report = JSON.parse(readFileSync(join(dir, 'md', name + '.json'), 'utf8'));
  const why = [];
  let tokens;
  try { tokens = md.parse(text, {}); md.render(text); } catch (e) { why.push('parser threw: ' + e.message); tokens = []; }
  const code = [], fences = [], html = [];
  walk(tokens, (t) => {
    if (t.type === 'code_inline') code.push(t.content);
    if (t.type === 'fence') fences.push(t.content.replace(/\n$/, ''));
    if (t.type === 'html_inline' || t.type === 'html_block') html.push(t.content);
  });
  if (html.length) why.push('raw HTML in the Markdown: ' + html[0]);
  const top = report.findings[0];
  if (top) {
    if (!code.includes(top.cause)) why.push('top cause ' + top.cause + ' not in a code span');
    for (const ev of top.evidence) {
      // fenced under the finding (copies of a line once), and in the timeline
      // table; control bytes would be shown as \xNN (none in the scenarios)
      const t = ev.text.replace(/[ \r]+$/, '');
      if (/[\x00-\x08\x0b-\x1f\x7f]/.test(t)) continue;
      if (!fences.includes(t) && !fences.includes(ev.text)) {
        if (!code.includes(ev.input + ':' + ev.line) || !code.some((c) => c.startsWith(t.split('\n')[0])))
          why.push('evidence not in a code block: ' + ev.input + ':' + ev.line);
      }
    }
  } else if (!text.includes(report.verdict === 'healthy' ? 'HEALTHY' : report.verdict === 'resolved' ? 'RESOLVED' : 'NO TPM EVIDENCE') && report.verdict !== 'problem') {
    why.push('verdict not stated');
  }
  mdFiles++;
  if (why.length) mdBad.push(name + ': ' + why.join('; '));
}
check('Markdown of ' + mdFiles + ' scenarios parses (CommonMark + GFM tables), holds the top cause and its evidence, no raw HTML',
  mdFiles >= 40 && mdBad.length === 0, mdBad.slice(0, 5).join(' | '));

const seedMd = readFileSync(join(dir, 'seed.md'), 'utf8');
const seedTokens = md.parse(seedMd, {});
let tableProof = false, fenceProof = false, inTable = false;
walk(seedTokens, (t) => {
  if (t.type === 'table_open') inTable = true;
  if (t.type === 'table_close') inTable = false;
  if (inTable && t.type === 'code_inline' && t.content.includes(PROOF)) tableProof = true;
  if (t.type === 'fence' && t.content.includes(PROOF)) fenceProof = true;
});
check('seed Markdown: RESOLVED, the proof line in the timeline table and under the finding',
  /^# tpmdiag: RESOLVED/m.test(seedMd) && tableProof && fenceProof && /FIX PROVEN/.test(seedMd));

// --- HTML in Chromium -------------------------------------------------------
const userDataDir = mkdtempSync(join(tmpdir(), 'tpmdiag-report-'));
const context = await launch(t, userDataDir, { viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
if (!context) {
  rmSync(userDataDir, { recursive: true, force: true });
  t.done();
}
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10000);
  const dialogs = [], errors = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  page.on('pageerror', (e) => errors.push(e.message));

  const seedUrl = pathToFileURL(resolve(dir, 'seed.html')).href;
  const requests = [];
  page.on('request', (r) => { if (r.url() !== seedUrl) requests.push(r.url()); });
  await page.goto(seedUrl, { waitUntil: 'load' });
  await page.waitForTimeout(300);
  check('seed report from file:// makes 0 requests besides itself', requests.length === 0, requests.join(', '));
  console.log('note: requests besides the file: ' + requests.length);
  check('no script in the report', await page.locator('script').count() === 0);
  check('verdict says RESOLVED', (await page.textContent('#verdict h1')).trim() === 'RESOLVED');
  const titles = await page.locator('svg.timeline title').allTextContents();
  check('timeline SVG marks the proof line', titles.some((t) => t.includes(PROOF) && t.includes('proves the fix')));
  check('timeline SVG says "fix proven"', (await page.locator('svg.timeline text').allTextContents()).includes('fix proven'));
  check('timeline highlights the top finding\'s evidence', titles.some((t) => t.includes('evidence of the top finding') && t.includes('CreatePrimary')));
  const finding = await page.textContent('#finding-1');
  check('the proof line is under the finding', /Proof of the fix \(boot 2\)/.test(finding) && finding.includes(PROOF));
  check('host facts shown (TPM vendor from the log)', (await page.textContent('dl.facts')).includes('IFX'));
  const hidden = page.locator('details:not([open]) tr').first();
  check('screen: the per-boot line tables are folded', !(await hidden.isVisible()));
  await page.emulateMedia({ media: 'print' });
  check('print: every folded part is shown', await hidden.isVisible());
  await page.emulateMedia({ media: 'screen' });
  if (docsShot) {
    await page.screenshot({ path: docsShot, fullPage: false });
    check('screenshot written to ' + docsShot, true);
  }

  const xssUrl = pathToFileURL(resolve(dir, 'xss.html')).href;
  await page.goto(xssUrl, { waitUntil: 'load' });
  await page.waitForTimeout(300);
  const body = await page.textContent('body');
  check('hostile log lines: <script> shows as text', body.includes('<script>window.__pwned=1</script>') &&
    body.includes('<img src=x onerror=alert(1)>'));
  check('hostile log lines: nothing ran', dialogs.length === 0 && !(await page.evaluate(() => window.__pwned)) &&
    await page.locator('script, img').count() === 0, dialogs.join(', '));
  check('no page errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  check('browser checks ran', false, e.message.split('\n')[0]);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
t.done();
