// tpmdiag web page: paste logs or drop files, POST them to /api/diagnose, show
// the JSON report (docs/json-report.md) as a timeline strip and cause cards;
// "Download report (HTML)" asks the server for the case report file
// (docs/report.md), "Redact" for a redacted run.
//
// Logs are untrusted. Every piece of text from a report is put on the page with
// textContent (el() below); nothing is ever assigned to innerHTML, and links are
// made only from http(s) URLs. The server's Content-Security-Policy forbids
// inline script as a second line of defence.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $('form');
  const logs = $('logs');
  const fileInput = $('files');
  const drop = $('drop');
  const fileList = $('file-list');
  const button = $('diagnose');
  const status = $('status');
  const report = $('report');
  const results = $('results');

  let files = [];            // File objects chosen or dropped
  let maxBody = 32 << 20;    // refreshed from /healthz
  let jsonUrl = null;        // object URL of the last report, for "Download JSON"
  let shown = null;          // what the shown report was made from: {text, files, redact}, for "Download report (HTML)"
  let busy = false;
  const redactSwitch = $('redact');

  const VERDICTS = {
    problem: { label: 'Problem found', text: 'A TPM fault is open: see the causes below, best first.' },
    resolved: { label: 'Resolved', text: 'A fault was seen, and a later boot shows it fixed.' },
    healthy: { label: 'Healthy', text: 'No line shows a fault, and a line proves the TPM works (driver up, endorsement key provisioned, attestation passed).' },
    no_tpm_evidence: { label: 'No TPM evidence', text: 'No line shows a fault, and none proves the TPM works. Paste more of vmkernel.log and hostd.log (the last boot).' },
  };
  const ROLE_LABEL = { symptom: 'symptom', context: 'context', benign: 'harmless', success: 'success' };
  const MAX_LINES_SHOWN = 400;

  // ---- DOM helpers: text only, never HTML -------------------------------
  // el('p', {class: 'x'}, 'text', child, ...): attributes by setAttribute,
  // string children as text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else if (c instanceof Node) node.appendChild(c);
      else node.appendChild(document.createTextNode(String(c)));
    }
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  // A link for an http(s) URL; anything else is shown as text.
  function link(url, text) {
    let u;
    try { u = new URL(url); } catch (e) { return el('span', null, text || String(url)); }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return el('span', null, text || String(url));
    return el('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer' }, text || u.href);
  }
  function safeId(s) {
    return String(s).replace(/[^A-Za-z0-9_-]/g, '_');
  }
  function bytes(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(n % (1 << 20) ? 1 : 0) + ' MiB';
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(n % (1 << 10) ? 1 : 0) + ' KiB';
    return n + ' B';
  }
  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : (many || one + 's'));
  }

  // ---- input: files ------------------------------------------------------
  function addFiles(list) {
    for (const f of list) {
      if (!files.some((g) => g.name === f.name && g.size === f.size)) files.push(f);
    }
    renderFiles();
  }
  function renderFiles() {
    clear(fileList);
    files.forEach((f, i) => {
      const remove = el('button', { type: 'button', class: 'chip-remove', 'aria-label': 'Remove ' + f.name }, '×');
      remove.addEventListener('click', () => {
        files.splice(i, 1);
        renderFiles();
        (fileList.querySelector('.chip-remove') || fileInput).focus();
      });
      fileList.appendChild(el('li', { class: 'chip' },
        el('span', { class: 'chip-name' }, f.name), el('span', { class: 'chip-size' }, bytes(f.size)), remove));
    });
  }
  fileInput.addEventListener('change', () => {
    addFiles(fileInput.files);
    fileInput.value = '';
  });
  ['dragenter', 'dragover'].forEach((t) => document.addEventListener(t, (e) => {
    if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes('Files')) return;
    e.preventDefault();
    drop.classList.add('dragging');
  }));
  ['dragleave', 'dragend'].forEach((t) => document.addEventListener(t, (e) => {
    if (e.target === document.documentElement || e.target === drop || !e.relatedTarget) drop.classList.remove('dragging');
  }));
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();  // a dropped file anywhere is an input, never a navigation
    drop.classList.remove('dragging');
    addFiles(e.dataTransfer.files);
  });

  // ---- submit --------------------------------------------------------------
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      diagnose();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    diagnose();
  });
  $('clear').addEventListener('click', () => {
    logs.value = '';
    files = [];
    renderFiles();
    setStatus('', '');
    logs.focus();
  });

  function setStatus(kind, text) {
    status.className = 'status' + (kind ? ' status-' + kind : '');
    clear(status);
    if (text) status.appendChild(kind === 'busy' ? el('span', { class: 'spinner', 'aria-hidden': 'true' }) : document.createTextNode(''));
    if (text) status.appendChild(document.createTextNode(text));
  }

  async function diagnose() {
    if (busy) return;
    const text = logs.value;
    if (!text.trim() && files.length === 0) {
      setStatus('error', 'Nothing to diagnose: paste log lines or choose files first.');
      logs.focus();
      return;
    }
    const size = files.reduce((n, f) => n + f.size, 0) + new Blob([text]).size;
    if (size > maxBody) {
      setStatus('error', 'Too much input: ' + bytes(size) + ' is over this server\u2019s limit of ' + bytes(maxBody) +
        '. Choose fewer files, or run \u201ctpmdiag diagnose\u201d on them.');
      return;
    }
    const request = { text, files: files.slice(), redact: redactSwitch.checked };
    const { body, headers } = requestBody(request);
    busy = true;
    button.disabled = true;
    results.setAttribute('aria-busy', 'true');
    setStatus('busy', 'Diagnosing\u2026');
    try {
      const res = await fetch('api/diagnose' + (request.redact ? '?redact=1' : ''), { method: 'POST', body, headers });
      const raw = await res.text();
      let data = null;
      try { data = JSON.parse(raw); } catch (e) { /* shown below */ }
      if (!res.ok || !data || data.error) {
        const msg = data && data.error ? data.error : 'the server answered HTTP ' + res.status;
        setStatus('error', 'Could not diagnose: ' + msg);
        return;
      }
      setStatus('', '');
      shown = request;
      renderReport(data, raw);
      const heading = $('verdict-heading');
      if (heading) heading.focus();
    } catch (e) {
      setStatus('error', 'Could not reach the tpmdiag server (' + e.message + '). Is \u201ctpmdiag serve\u201d still running?');
    } finally {
      busy = false;
      button.disabled = false;
      results.removeAttribute('aria-busy');
    }
  }

  // The body of POST /api/diagnose: the text alone, or files (and the text) as multipart.
  function requestBody(request) {
    if (!request.files.length) return { body: request.text, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    const body = new FormData();
    for (const f of request.files) body.append('file', f, f.name);
    if (request.text.trim()) body.append('text', request.text);
    return { body, headers: {} };
  }

  // "Download report (HTML)": the same inputs again, as the case report file
  // that `tpmdiag diagnose --format html` writes (one self-contained file).
  async function downloadReport(buttonNode) {
    if (!shown) return;
    const { body, headers } = requestBody(shown);
    buttonNode.disabled = true;
    try {
      const res = await fetch('api/diagnose?format=html' + (shown.redact ? '&redact=1' : ''), { method: 'POST', body, headers });
      if (!res.ok) {
        let msg = 'HTTP ' + res.status;
        try { msg = (await res.json()).error || msg; } catch (e) { /* keep the status */ }
        setStatus('error', 'Could not make the report: ' + msg);
        return;
      }
      const url = URL.createObjectURL(await res.blob());
      const a = el('a', { href: url, download: 'tpmdiag-report.html', class: 'visually-hidden' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      setStatus('error', 'Could not reach the tpmdiag server (' + e.message + ').');
    } finally {
      buttonNode.disabled = false;
    }
  }

  // ---- report --------------------------------------------------------------
  function renderReport(r, raw) {
    clear(report);
    if (jsonUrl) URL.revokeObjectURL(jsonUrl);
    jsonUrl = URL.createObjectURL(new Blob([raw], { type: 'application/json' }));

    const findings = r.findings || [];
    const context = r.context || [];
    const inputs = r.inputs || [];
    report.appendChild(verdictBanner(r, findings, context, inputs));

    const failed = inputs.filter((i) => i.error);
    if (failed.length) {
      report.appendChild(el('div', { class: 'notice notice-warn', role: 'note' },
        el('strong', null, 'Incomplete: ' + plural(failed.length, 'input') + ' could not be read to the end. ' +
          'This report holds only what came before the error:'),
        el('ul', null, failed.map((i) => el('li', null, i.error)))));
    }
    const top = findings[0];
    if (top && top.uncertain) {
      report.appendChild(el('div', { class: 'notice notice-info', role: 'note' },
        el('strong', null, 'Uncertain. '),
        'The likeliest cause, ', el('code', null, top.cause), ', ' +
        (top.ambiguous ? 'is not the only one these lines fit' : 'has a confidence below 60 %') +
        '. Do the check under \u201cCheck this first\u201d before any fix.'));
    }
    if (r.redacted) report.appendChild(el('div', { class: 'notice notice-info', role: 'note' },
      'Redacted: host names, addresses, serial numbers, UUIDs, user and vCenter names are replaced by tokens (host-1, ip-1, \u2026).'));
    if ((r.hosts || []).length > 1 || (r.hosts || []).some((h) => (h.boots || []).length > 1)) report.appendChild(hostTable(r.hosts));
    if ((r.hosts || []).length) report.appendChild(timelineSection(r));

    if (findings.length) {
      const firstOf = {};
      findings.forEach((f, i) => { if (!(f.cause in firstOf)) firstOf[f.cause] = i; });
      const list = el('div', { class: 'cards' });
      findings.forEach((f, i) => list.appendChild(card(f, i, firstOf, findings.length)));
      report.appendChild(section('Causes', 'causes-heading', list));
    }
    const unexplained = r.unexplained || [];
    if (unexplained.length) {
      report.appendChild(section('Lines no rule explains', 'unexplained-heading',
        el('p', null, 'These lines talk about the TPM and read like failures, but tpmdiag has no rule for them. ' +
          'Read them yourself; search their exact text in the VMware/Broadcom knowledge base and the server vendor\u2019s documentation.'),
        evidenceList(unexplained.map((u) => ({ input: u.input, line: u.line, text: u.text, role: 'symptom', rule: 'no rule' })))));
    }
    if (context.length) report.appendChild(otherLines(context));
    if (inputs.length) report.appendChild(inputsTable(inputs));
    report.appendChild(rawJson(raw));
  }

  function section(title, id, ...children) {
    return el('section', { class: 'block', 'aria-labelledby': id }, el('h2', { id, class: 'block-title' }, title), children);
  }

  function verdictBanner(r, findings, context, inputs) {
    const v = VERDICTS[r.verdict] || { label: r.verdict, text: '' };
    const lines = inputs.reduce((n, i) => n + (i.lines || 0), 0);
    const tpmLines = (r.hosts || []).reduce((n, h) => n + (h.boots || []).reduce((m, b) => m + (b.tpm_lines || 0), 0), 0);
    const facts = [
      plural(findings.length, 'cause'),
      plural((r.hosts || []).length, 'host'),
      plural(tpmLines, 'TPM line') + ' of ' + lines.toLocaleString('en') + ' read',
      plural(inputs.length, 'input'),
    ];
    const rawButton = el('button', { type: 'button', class: 'button quiet small', 'aria-controls': 'raw-json' }, 'Raw JSON');
    rawButton.addEventListener('click', () => {
      const d = $('raw-json');
      d.open = true;
      d.scrollIntoView({ block: 'start' });
      d.querySelector('summary').focus();
    });
    const htmlButton = el('button', { type: 'button', class: 'button quiet small', id: 'download-html' }, 'Download report (HTML)');
    htmlButton.addEventListener('click', () => downloadReport(htmlButton));
    return el('div', { class: 'verdict verdict-' + safeId(r.verdict), id: 'verdict' },
      el('div', { class: 'verdict-main' },
        el('h2', { class: 'verdict-label', id: 'verdict-heading', tabindex: '-1' },
          el('span', { class: 'verdict-dot', 'aria-hidden': 'true' }), v.label),
        el('p', { class: 'verdict-text' }, v.text),
        el('p', { class: 'verdict-facts' }, facts.join(' \u00b7 '))),
      el('div', { class: 'verdict-actions' },
        htmlButton,
        rawButton,
        el('a', { class: 'button quiet small', href: jsonUrl, download: 'tpmdiag-report.json' }, 'Download JSON')));
  }

  // ---- timeline strip (hosts[].boots[].timeline, as the HTML report draws it) --
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return append(node, children);
  }
  const LANES = ['vmkernel', 'hostd', 'vpxa', 'vobd', 'vpxd', 'syslog', 'esxcli', 'bmc', 'ui', 'psod', 'pasted'];
  const MARKER_LABEL = { symptom: 'symptom', unexplained: 'no rule explains it', harmless: 'harmless', success: 'success', context: 'context' };
  function markerShape(marker, x, y) {
    const cls = 'mark mark-' + marker;
    if (marker === 'symptom') return svg('circle', { cx: x, cy: y, r: 5.5, class: cls });
    if (marker === 'unexplained') return svg('rect', { x: x - 5, y: y - 5, width: 10, height: 10, class: cls });
    if (marker === 'harmless') return svg('polygon', { points: `${x},${y - 6} ${x + 6},${y} ${x},${y + 6} ${x - 6},${y}`, class: cls });
    if (marker === 'success') return svg('polygon', { points: `${x},${y - 6} ${x + 6},${y + 5} ${x - 6},${y + 5}`, class: cls });
    return svg('circle', { cx: x, cy: y, r: 3, class: cls });
  }
  function timelineSection(r) {
    const text = {};  // "input:line" -> the line, from wherever the report holds it
    const put = (e) => { text[e.input + ':' + e.line] = e.text; };
    for (const f of r.findings || []) { (f.evidence || []).forEach(put); (f.resolved_by || []).forEach(put); }
    (r.context || []).forEach(put);
    (r.unexplained || []).forEach(put);
    const hosts = (r.hosts || []).map((h) => {
      const facts = Object.entries(h.bundle || {});
      return el('div', { class: 'timeline-host' },
        el('h3', { class: 'timeline-title' }, h.host ? 'Host ' + h.host : 'Host (not named in the input)'),
        facts.length ? el('dl', { class: 'host-facts' }, facts.map(([k, v]) => [el('dt', null, k.replace(/_/g, ' ')), el('dd', null, v)])) : null,
        timelineSvg(h, text));
    });
    const legend = el('p', { class: 'timeline-legend' }, Object.entries(MARKER_LABEL).map(([m, label]) =>
      el('span', { class: 'legend-item' }, svg('svg', { width: 14, height: 14, viewBox: '0 0 14 14', 'aria-hidden': 'true' }, markerShape(m, 7, 8)), ' ' + label)),
      el('span', { class: 'legend-item' }, el('span', { class: 'legend-ring', 'aria-hidden': 'true' }), ' evidence of the top cause'),
      el('span', { class: 'legend-item' }, el('span', { class: 'legend-proof', 'aria-hidden': 'true' }), ' proves the fix'));
    return section('Timeline', 'timeline-heading', hosts, legend);
  }
  function timelineSvg(h, text) {
    const boots = h.boots || [];
    const used = new Set();
    boots.forEach((b) => (b.timeline || []).forEach((l) => used.add(l.lane)));
    const lanes = LANES.filter((l) => used.has(l));
    const W = 1000, left = 84, top = 34, laneH = 24, H = top + laneH * lanes.length + 12;
    const seg = (W - left - 12) / Math.max(1, boots.length);
    const root = svg('svg', { class: 'timeline-strip', viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': 'Timeline of ' + (h.host || 'the host') + ': ' + boots.length + ' boot windows' });
    lanes.forEach((lane, i) => {
      const y = top + laneH * (i + 0.5);
      root.appendChild(svg('text', { x: 6, y: y + 4, class: 'lane-label' }, lane));
      root.appendChild(svg('line', { x1: left, x2: W - 12, y1: y, y2: y, class: 'lane-line' }));
    });
    boots.forEach((b, bi) => {
      const x0 = left + seg * bi, lines = b.timeline || [];
      root.appendChild(svg('line', { x1: x0, x2: x0, y1: 4, y2: H - 4, class: 'boot-line' }));
      root.appendChild(svg('text', { x: x0 + 6, y: 16, class: 'boot-label boot-' + safeId(b.verdict) }, 'boot ' + b.boot + ' \u00b7 ' + b.verdict));
      lines.forEach((l, i) => {
        const x = x0 + 12 + (seg - 24) * (i + 0.5) / lines.length;
        const y = top + laneH * (lanes.indexOf(l.lane) + 0.5);
        const g = svg('g', { class: 'mark-group' + (l.proof ? ' is-proof' : '') + (l.top_evidence ? ' is-top' : '') },
          svg('title', null, [l.timestamp || 'no timestamp', l.lane, MARKER_LABEL[l.marker] || l.marker,
            l.top_evidence ? 'evidence of the top cause' : '', l.proof ? 'proves the fix' : ''].filter(Boolean).join(' \u00b7 ') +
            '\n' + l.input + ':' + l.line + '\n' + (text[l.input + ':' + l.line] || '')));
        if (l.top_evidence) g.appendChild(svg('circle', { cx: x, cy: y, r: 10, class: 'ring-top' }));
        if (l.proof) {
          g.appendChild(svg('circle', { cx: x, cy: y, r: 11, class: 'ring-proof' }));
          g.appendChild(svg('text', { x, y: y - 14, class: 'proof-label', 'text-anchor': 'middle' }, 'fix proven'));
        }
        g.appendChild(markerShape(l.marker, x, y));
        root.appendChild(g);
      });
    });
    return el('div', { class: 'timeline-wrap' }, root);
  }

  function hostTable(hosts) {
    const rows = [];
    for (const h of hosts) {
      for (const b of h.boots || []) {
        rows.push(el('tr', null,
          el('td', null, h.host || '(not named)'),
          el('td', null, String(b.boot)),
          el('td', null, [b.first, b.last].filter(Boolean).join(' \u2192 ') || '\u2014'),
          el('td', null, String(b.tpm_lines)),
          el('td', null, el('span', { class: 'tag tag-' + safeId(b.verdict) }, b.verdict))));
      }
    }
    return section('Hosts and boots', 'hosts-heading',
      el('div', { class: 'table-wrap' }, el('table', { class: 'table' },
        el('thead', null, el('tr', null, ['Host', 'Boot', 'Time', 'TPM lines', 'Verdict'].map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', null, rows))));
  }

  function card(f, i, firstOf, count) {
    const pct = Math.round((f.confidence || 0) * 100);
    const resolved = f.status === 'resolved';
    const head = el('header', { class: 'card-head' },
      el('div', { class: 'card-rank', 'aria-hidden': 'true' }, String(i + 1)),
      el('div', { class: 'card-titles' },
        el('h3', { class: 'card-title', id: 'finding-' + i + '-title' }, f.title),
        el('p', { class: 'card-meta' },
          el('code', { class: 'cause-id' }, f.cause),
          el('span', { class: 'tag ' + (resolved ? 'tag-resolved' : 'tag-problem') },
            resolved ? 'resolved' + (f.resolved_in_boot ? ' in boot ' + f.resolved_in_boot : '') : 'problem'),
          el('span', { class: 'meta-text' }, (f.host ? 'host ' + f.host + ', ' : '') + 'boot ' + f.boot))),
      el('div', { class: 'confidence', title: 'How well the evidence fits this cause' },
        el('span', { class: 'confidence-value' }, pct + '%'),
        el('span', { class: 'confidence-label' }, 'confidence'),
        el('span', { class: 'confidence-bar', 'aria-hidden': 'true' }, el('span', { class: 'confidence-fill', style: null, 'data-pct': pct }))));

    const body = [];
    if (f.summary) body.push(el('p', { class: 'card-summary' }, f.summary));
    const alts = f.alternatives || [];
    if (f.ambiguous || alts.length) {
      body.push(el('div', { class: 'notice notice-info ambiguity', role: 'note' },
        el('strong', null, 'Not certain. '),
        alts.length ? 'Other causes fit the same evidence: ' : 'Other causes fit the same evidence. ',
        alts.map((a, k) => [k ? ', ' : '', a in firstOf ? el('a', { href: '#finding-' + firstOf[a] }, a) : el('code', null, a)]),
        alts.length ? '. ' : '',
        'The check under \u201cHow to confirm\u201d tells them apart.'));
    }
    // Uncertain: what tells the candidates apart comes first, the fix is folded.
    if (f.uncertain && f.check) body.push(el('h4', { class: 'sub' }, 'Check this first'), el('p', null, f.check));
    body.push(el('h4', { class: 'sub' }, 'Evidence'));
    body.push(evidenceList(f.evidence || []));
    if ((f.resolved_by || []).length) {
      body.push(el('h4', { class: 'sub' }, 'Proof of the fix' + (f.resolved_in_boot ? ' (boot ' + f.resolved_in_boot + ')' : '')));
      body.push(evidenceList(f.resolved_by));
    }
    if (f.meaning) body.push(el('h4', { class: 'sub' }, 'What it means'), el('p', null, f.meaning));
    if ((f.fix || []).length) {
      const steps = el('ol', { class: 'fix' }, f.fix.map((s) => el('li', null, s)));
      if (f.uncertain) body.push(el('details', { class: 'fix-folded' }, el('summary', null, 'How to fix (after the check above)'), steps));
      else body.push(el('h4', { class: 'sub' }, 'How to fix'), steps);
    }
    if (f.check && !f.uncertain) body.push(el('h4', { class: 'sub' }, 'How to confirm'), el('p', null, f.check));
    if ((f.references || []).length) {
      body.push(el('h4', { class: 'sub' }, 'References'), el('ul', { class: 'refs' }, f.references.map((r) =>
        el('li', null, link(r.url, r.title || r.url), r.note ? el('span', { class: 'muted' }, ' \u2014 ' + r.note) : null))));
    }
    if ((f.vendor_notes || []).length) {
      body.push(el('h4', { class: 'sub' }, 'Vendor notes'), el('ul', { class: 'notes' }, f.vendor_notes.map((v) =>
        el('li', null, el('strong', null, v.vendor + ': '), v.note, v.source ? [' ', link(v.source, 'source')] : null))));
    }
    if ((f.inference || []).length) {
      body.push(el('details', { class: 'inference' }, el('summary', null, 'What is our inference, not a source\u2019s'),
        el('ul', null, f.inference.map((s) => el('li', null, s)))));
    }
    const art = el('article', { class: 'card ' + (resolved ? 'card-resolved' : 'card-problem') + (i === 0 ? ' card-top' : ''),
      id: 'finding-' + i, 'aria-labelledby': 'finding-' + i + '-title' }, head);
    if (i === 0 || count <= 2) append(art, [el('div', { class: 'card-body' }, body)]);
    else append(art, [el('details', { class: 'card-more' }, el('summary', null, 'Evidence, fix and references'), el('div', { class: 'card-body' }, body))]);
    art.querySelectorAll('.confidence-fill').forEach((s) => { s.style.width = s.getAttribute('data-pct') + '%'; });
    return art;
  }

  // A rule's meaning is shown once per list, at its first line.
  function evidenceList(facts) {
    const seen = new Set();
    const items = facts.slice(0, MAX_LINES_SHOWN).map((e) => {
      const first = !seen.has(e.rule);
      seen.add(e.rule);
      return lineItem(e, first);
    });
    return el('ol', { class: 'lines' }, items,
      facts.length > MAX_LINES_SHOWN ? el('li', { class: 'muted' }, (facts.length - MAX_LINES_SHOWN) + ' more lines in the raw JSON') : null);
  }

  function lineItem(e, withMeaning) {
    const loc = (e.input || '') + ':' + e.line;
    const item = el('li', { class: 'line role-' + safeId(e.role) },
      el('div', { class: 'line-head' },
        el('span', { class: 'loc' }, loc),
        el('span', { class: 'tag tag-role' }, ROLE_LABEL[e.role] || e.role),
        el('span', { class: 'rule muted' }, e.rule)),
      el('pre', { class: 'line-text' }, el('code', null, e.text)));
    if (e.rc) item.appendChild(rcBlock(e.rc, e.fields && e.fields.command));
    if (e.meaning && withMeaning) item.appendChild(el('p', { class: 'line-meaning' }, e.meaning));
    return item;
  }

  // A decoded TPM return code, with a button that asks /api/rc for what the
  // code usually means on ESXi.
  function rcBlock(rc, command) {
    const where = rc.kind + (rc.index ? ' ' + rc.index : '');
    const out = el('div', { class: 'rc' },
      el('code', { class: 'rc-code' }, rc.code),
      el('span', { class: 'rc-name' }, rc.name || 'unnamed code'),
      el('span', { class: 'rc-where' }, where),
      el('span', { class: 'rc-desc' }, rc.description));
    const more = el('button', { type: 'button', class: 'button link small', 'aria-expanded': 'false' }, 'On ESXi\u2026');
    const box = el('div', { class: 'rc-context', hidden: true });
    more.addEventListener('click', async () => {
      const open = more.getAttribute('aria-expanded') === 'true';
      more.setAttribute('aria-expanded', String(!open));
      box.hidden = open;
      if (open || box.firstChild) return;
      box.appendChild(el('span', { class: 'muted' }, 'Loading\u2026'));
      try {
        const q = command ? '?command=' + encodeURIComponent(command) : '';
        const res = await fetch('api/rc/' + encodeURIComponent(rc.code) + q);
        const data = await res.json();
        clear(box);
        const ctx = (data[0] && data[0].contexts) || [];
        if (!res.ok || !ctx.length) {
          box.appendChild(el('span', { class: 'muted' }, data.error || 'No ESXi-specific note for this code.'));
          return;
        }
        box.appendChild(el('ul', null, ctx.map((c) => el('li', null,
          c.command ? el('strong', null, c.command + ': ') : null, c.context,
          c.cause ? [' ', el('code', null, c.cause)] : null,
          c.inference ? el('span', { class: 'muted' }, ' (our inference)') : null,
          c.source ? [' ', link(c.source, 'source')] : null))));
      } catch (e) {
        clear(box);
        box.appendChild(el('span', { class: 'muted' }, 'Could not load: ' + e.message));
      }
    });
    out.appendChild(more);
    return el('div', null, out, box);
  }

  function otherLines(context) {
    const benign = context.filter((c) => c.role === 'benign');
    const rest = context.filter((c) => c.role !== 'benign');
    const parts = [];
    if (benign.length) {
      parts.push(el('div', { class: 'benign' },
        el('h3', { class: 'block-subtitle' }, 'Harmless (' + benign.length + ')'),
        el('p', { class: 'muted' }, 'These lines look alarming but appear on healthy hosts too. Nobody needs to chase them.'),
        evidenceList(benign)));
    }
    if (rest.length) {
      parts.push(el('details', { class: 'context' },
        el('summary', null, 'Context lines (' + rest.length + '): what the TPM and its driver did, no fault'),
        evidenceList(rest)));
    }
    return section('Other TPM lines', 'other-heading', parts);
  }

  function inputsTable(inputs) {
    return el('details', { class: 'block inputs' },
      el('summary', null, 'Inputs (' + inputs.length + ')'),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table' },
        el('thead', null, el('tr', null, ['Input', 'Lines', 'Candidates', 'Bytes', 'Note'].map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', null, inputs.map((i) => el('tr', null,
          el('td', null, el('code', null, i.name)),
          el('td', { class: 'num' }, (i.lines || 0).toLocaleString('en')),
          el('td', { class: 'num' }, (i.candidates || 0).toLocaleString('en')),
          el('td', { class: 'num' }, bytes(i.bytes || 0)),
          el('td', null, i.error || (i.cut_lines ? i.cut_lines + ' overlong lines cut' : ''))))))));
  }

  function rawJson(raw) {
    return el('details', { class: 'block raw', id: 'raw-json' },
      el('summary', null, 'Raw JSON (schema in docs/json-report.md)'),
      el('pre', { class: 'raw-text' }, el('code', null, raw)));
  }

  // ---- start -----------------------------------------------------------------
  fetch('healthz').then((r) => r.json()).then((h) => {
    if (h.version) $('version').textContent = 'v' + h.version;
    if (h.max_body) {
      maxBody = h.max_body;
      $('limit-hint').textContent = ', up to ' + bytes(maxBody) + ' in all';
    }
  }).catch(() => {});
  $('api-url').textContent = new URL('api/diagnose', location.href).href;
})();
