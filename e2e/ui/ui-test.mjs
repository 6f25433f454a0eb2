// Browser test of the web UI: Debian's chromium driven by playwright-core.
// Run by e2e/40-ui.sh against the real platform. Environment:
//   UI_BASE       gateway URL, e.g. http://127.0.0.1:8080
//   UI_USER, UI_PASSWORD   the gateway's basic-auth credentials
//   UI_SHOTS      directory for the screenshots
//   UI_FUNCTIONS  space-separated sample functions the list must show (default "echo")
//   UI_READY_S    seconds a new function gets to become Ready (default 120)
// Prints one line per check: "pass NAME" or "fail NAME: why". Exit 0 when
// every check ran (the shell counts the lines), 1 when the test itself broke.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import http from 'node:http';

const base = (process.env.UI_BASE || 'http://127.0.0.1:8080').replace(/\/$/, '');
const user = process.env.UI_USER || '';
const password = process.env.UI_PASSWORD || '';
const shots = process.env.UI_SHOTS || path.join(os.tmpdir(), 'ui-shots');
const samples = (process.env.UI_FUNCTIONS || 'echo').split(/\s+/).filter(Boolean);
const readyMs = Number(process.env.UI_READY_S || 120) * 1000;
const auth = 'Basic ' + Buffer.from(user + ':' + password).toString('base64');
const suffix = Date.now().toString(36).slice(-6);
const newName = 'ui-e2e-' + suffix;
const probe = 'csrf-probe-' + suffix;
fs.mkdirSync(shots, { recursive: true });

let failed = 0;
function pass(name) { console.log('pass ' + name); }
function fail(name, why) { failed++; console.log('fail ' + name + ': ' + String(why).split('\n')[0].slice(0, 300)); }
async function step(name, fn) {
  try {
    await fn();
    pass(name);
    return true;
  } catch (e) {
    fail(name, e && e.message ? e.message : e);
    return false;
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function apiGet(p) {
  const r = await fetch(base + p, { headers: { Authorization: auth } });
  if (!r.ok) throw new Error('GET ' + p + ': ' + r.status);
  return r.json();
}
async function apiDelete(name) {
  await fetch(base + '/apis/faas/v1/functions/' + name, { method: 'DELETE', headers: { Authorization: auth } }).catch(() => {});
}

// Each context gets its own Chromium with a fresh profile directory, removed at the end.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const profiles = [];
const contexts = [];
const pageErrors = [];
async function newPage(viewport, mobile, noCredentials) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-chromium-'));
  profiles.push(profile);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', args: ARGS, timeout: 60000,
    viewport, isMobile: !!mobile, hasTouch: !!mobile, deviceScaleFactor: 1,
    httpCredentials: noCredentials ? undefined : { username: user, password }, colorScheme: 'light'
  });
  contexts.push(ctx);
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push('console: ' + m.text()); });
  return page;
}
const shot = (page, name) => page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });

try {
  const api = await apiGet('/apis/faas/v1/functions');
  const echo = api.items.find((f) => f.metadata.name === 'echo');
  let page;
  try {
    page = await newPage({ width: 1280, height: 860 });
    pass('chromium starts');
  } catch (e) {
    fail('chromium starts', e.message);
    throw e;
  }

  // 1. The list shows the sample functions with their columns.
  await step('list shows the sample functions', async () => {
    const t0 = Date.now();
    const r = await page.goto(base + '/ui/');
    assert(r && r.status() === 200, '/ui/ answered ' + (r && r.status()));
    await page.waitForSelector('tr[data-function="echo"]');
    console.log('note: the list showed echo ' + (Date.now() - t0) + ' ms after navigation started');
    // Every function the API lists, in its order: the samples among them
    // (e2e/30 checks that the platform has them all; echo is needed here).
    const want = api.items.map((f) => f.metadata.name);
    assert(want.includes('echo'), 'the API lists no echo function: ' + want);
    const missing = samples.filter((n) => !want.includes(n));
    if (missing.length) console.log('note: the platform lacks the samples ' + missing.join(', '));
    for (const n of want) await page.waitForSelector(`tr[data-function="${n}"]`);
    const names = await page.$$eval('tr[data-function]', (rows) => rows.map((r) => r.dataset.function));
    assert(JSON.stringify(names) === JSON.stringify(want), 'UI shows ' + names + ', API has ' + want);
  });
  await step('list row has image, Ready, replicas and invocations', async () => {
    const cells = await page.$$eval('tr[data-function="echo"] td', (tds) => tds.map((t) => t.textContent.trim()));
    assert(cells[1] === echo.spec.image, 'image cell ' + cells[1]);
    assert(/Ready|Not ready|Unknown/.test(cells[2]), 'ready cell ' + cells[2]);
    assert(/^\d+ \/ \d+$/.test(cells[3]), 'replicas cell ' + cells[3]);
    assert(/^[\d,]+$/.test(cells[4]), 'invocations cell ' + cells[4]);
    await page.waitForSelector('tr[data-function="echo"] [data-ready="True"]', { timeout: readyMs });
  });
  await shot(page, 'list-desktop');

  await step('YAML helpers: metadata.name, documents, quoting', async () => {
    const got = await page.evaluate(() => {
      const u = window.faasUI;
      const name = (t) => { const d = u.splitDocs(t); return d.map((x) => { const r = u.extractName(x); return r.name ? r.name + '@' + (x.start + r.line) : 'error@' + (x.start + r.line); }).join(' '); };
      return [
        name('metadata:\n  name: foo\n'),
        name('kind: Function\nmetadata: {name: "bar", labels: {a: b}}\n'),
        name('metadata:\n  labels:\n    name: notme\n  name: \'it\'\'s\'\n'),
        name('metadata:\n  # name: commented\n\n  name: baz   # the name\n'),
        name('kind: Function\nspec:\n  name: x\n'),
        name('# one\nmetadata:\n  name: a\n---\nmetadata:\n  name: b\n'),
        u.toYaml({ image: 'faas/echo:latest', env: { A: 'yes', B: 'a: b', C: '' }, n: 1 })
      ];
    });
    const want = ['foo@2', 'bar@2', "it's@4", 'baz@4', 'error@1', 'a@3 b@6', 'image: faas/echo:latest\nenv:\n  A: "yes"\n  B: "a: b"\nn: 1'];
    assert(JSON.stringify(got) === JSON.stringify(want), 'got ' + JSON.stringify(got));
  });

  const invBefore = await page.$eval('tr[data-function="echo"] td:nth-child(5)', (t) => Number(t.textContent.replace(/,/g, '')));

  // 2. Detail and invoke: the echoed body comes back verbatim, as text.
  const payload = '<b>hello</b> from the browser & "quotes" ' + suffix;
  await step('detail shows status, conditions and spec', async () => {
    await page.click('tr[data-function="echo"] a');
    await page.waitForSelector('h1:text-is("echo")');
    await page.waitForSelector('[data-condition="Ready"]');
    const spec = await page.textContent('pre[aria-label="Spec as YAML"]');
    assert(spec.includes('image: ' + echo.spec.image) || spec.includes(JSON.stringify(echo.spec.image)), 'spec lacks the image: ' + spec.slice(0, 200));
  });
  await step('invoke echo returns the body', async () => {
    await page.selectOption('select[name="method"]', 'POST');
    await page.fill('textarea[name="headers"]', 'Content-Type: text/plain\nX-Ui-Test: ' + suffix);
    await page.fill('textarea[name="body"]', payload);
    await page.click('form.invoke button[type="submit"]');
    await page.waitForSelector('[data-body]');
    const body = await page.textContent('[data-body]');
    assert(body.trim() === payload, 'echoed body ' + JSON.stringify(body));
    assert(await page.$('[data-body] b') === null, 'response body was interpreted as HTML');
    const status = await page.getAttribute('[data-response] [data-status]', 'data-status');
    assert(status === '200', 'status ' + status);
    const time = await page.textContent('[data-time]');
    assert(/ms$/.test(time), 'time ' + time);
    console.log('note: invoke echo from the page took ' + time);
  });
  // Charts of the last 15 minutes, from the gateway's history (a point every 10 s).
  await step('charts show echo\'s invocations, errors, latency and replicas', async () => {
    for (const k of ['rate', 'errors', 'latency', 'replicas']) await page.waitForSelector(`svg[data-chart="${k}"]`);
    // The invoke above (and e2e/30's load) lands in a point within ~20 s.
    await page.waitForFunction(() => {
      const r = document.querySelector('svg[data-chart="rate"]');
      return r && Number(r.dataset.points) > 0 && r.querySelector('path[data-series="rate"]') &&
        r.dataset.last.split(' ').some((v) => Number(v) > 0);
    }, null, { timeout: 40000 });
    const d = await page.$$eval('svg[data-chart]', (a) => Object.fromEntries(a.map((x) => [x.dataset.chart, { n: Number(x.dataset.points), last: x.dataset.last }])));
    assert(d.replicas.n > 0 && Number(d.replicas.last) >= 1, 'replicas chart ' + JSON.stringify(d.replicas));
    assert(d.latency.n > 0 && d.latency.last.split(' ').every((v) => v === '' || (Number(v) >= 0 && Number(v) < 10)), 'latency chart ' + JSON.stringify(d.latency));
    assert(d.errors.n > 0, 'errors chart ' + JSON.stringify(d.errors));
    const h = await apiGet('/ui/history/echo');
    assert(h.function === 'echo' && h.step_seconds === 10 && h.t.length === h.replicas.length, 'history ' + JSON.stringify(h).slice(0, 200));
    console.log('note: echo\'s history has ' + h.t.length + ' points; latest rate ' + h.invocations_per_second[h.invocations_per_second.length - 1] + '/s');
  });
  // Replicas: the node's host name (this single-node swarm: this machine), not its ID.
  await step('replicas table shows node host names', async () => {
    await page.waitForSelector('tr[data-task] td[data-node]');
    const cells = (await page.$$eval('tr[data-task] td[data-node]', (tds) => tds.map((t) => [t.dataset.node, t.textContent.trim()])))
      .filter(([id]) => id); // a task not yet placed has no node
    assert(cells.length > 0, 'no task rows');
    for (const [id, text] of cells) assert(text === os.hostname() && text !== id, 'node cell ' + text + ' (id ' + id + ', host ' + os.hostname() + ')');
  });
  await page.click('details:has(summary:text-matches("Response headers")) summary').catch(() => {});
  await shot(page, 'detail-desktop');

  await step('list refreshes the invocation count without a reload', async () => {
    await page.click('nav a[data-nav="list"]');
    await page.waitForFunction((before) => {
      const td = document.querySelector('tr[data-function="echo"] td:nth-child(5)');
      return td && Number(td.textContent.replace(/,/g, '')) > before;
    }, invBefore, { timeout: 20000 });
    // The same document: no reload happened.
    assert(await page.evaluate(() => performance.getEntriesByType('navigation').length) === 1, 'page reloaded');
  });

  // 3. Deploy a new function from YAML and watch it become Ready.
  const goodYaml = [
    'apiVersion: faas/v1',
    'kind: Function',
    'metadata:',
    '  name: ' + newName + '   # made by e2e/40-ui.sh',
    '  labels: {test: ui}',
    'spec:',
    '  image: ' + JSON.stringify(echo.spec.image),
    '  fprocess: ' + JSON.stringify(echo.spec.fprocess || 'cat'),
    '  scale: {min: 1, max: 2}',
    ''
  ].join('\n');
  await step('deploy shows a template', async () => {
    await page.click('nav a[data-nav="deploy"]');
    await page.waitForSelector('textarea[data-editor]');
    const t = await page.inputValue('textarea[data-editor]');
    assert(/kind: Function/.test(t) && /metadata:/.test(t), 'no template: ' + t.slice(0, 80));
  });
  await step('deploy applies YAML (created)', async () => {
    await page.fill('textarea[data-editor]', goodYaml);
    await page.waitForSelector('p.target:text("Function: ' + newName + '")');
    await page.click('form.deploy button[type="submit"]');
    await page.waitForSelector('[data-result="applied"]', { timeout: 30000 });
    const t = await page.textContent('[data-result="applied"]');
    assert(t.includes(newName + ' created'), 'result ' + t);
  });
  const tApplied = Date.now();
  await step('deployed function becomes Ready', async () => {
    await page.waitForSelector(`[data-watch="${newName}"] [data-ready="True"]`, { timeout: readyMs });
    console.log('note: the new function showed Ready ' + (Date.now() - tApplied) + ' ms after the apply');
  });
  await shot(page, 'deploy-applied-desktop');
  await step('deployed function answers an invoke from its page', async () => {
    await page.click(`[data-watch="${newName}"] a`);
    await page.waitForSelector(`h1:text-is("${newName}")`);
    await page.fill('textarea[name="body"]', 'ping ' + suffix);
    await page.click('form.invoke button[type="submit"]');
    await page.waitForSelector('[data-body]', { timeout: 30000 });
    const body = await page.textContent('[data-body]');
    assert(body.trim() === 'ping ' + suffix, 'body ' + JSON.stringify(body));
  });

  await step('scale: asking for more than max is clamped, replicas follow', async () => {
    await page.fill('form.scale input[type="number"]', '3');
    await page.click('form.scale button[type="submit"]');
    await page.waitForSelector('form.scale p[role="status"]:text-matches("Scaled to 2")');
    await page.waitForSelector('[data-replicas]:text-is("2 available / 2 desired")', { timeout: readyMs });
  });
  await shot(page, 'detail-scaled-desktop');

  // 4. Invalid YAML: the controller's error is shown next to its line.
  const badLine = 8; // 1-based line of the unknown field below
  const badYaml = [
    'apiVersion: faas/v1',
    'kind: Function',
    'metadata:',
    '  name: ' + newName,
    'spec:',
    '  image: ' + JSON.stringify(echo.spec.image),
    '  fprocess: cat',
    '  replicaz: 3',
    ''
  ].join('\n');
  await step('invalid YAML: error shown next to its line', async () => {
    await page.click('nav a[data-nav="deploy"]');
    await page.fill('textarea[data-editor]', badYaml);
    await page.click('form.deploy button:text-is("Validate")');
    await page.waitForSelector('[data-errors] li');
    const lines = await page.$$eval('[data-errors] li', (lis) => lis.map((l) => l.dataset.errorLine + ' ' + l.textContent));
    assert(lines.some((l) => l.startsWith(badLine + ' ') && /replicaz/.test(l)), 'errors: ' + JSON.stringify(lines));
    await page.waitForSelector(`.gutter .ln.err[data-line="${badLine}"]`);
    await page.waitForSelector(`.note[data-note-line="${badLine}"]`);
  });
  await shot(page, 'deploy-error-desktop');
  await step('YAML syntax error is reported, nothing applied', async () => {
    await page.fill('textarea[data-editor]', goodYaml.replace('  labels: {test: ui}', '  labels: {test: ui'));
    await page.click('form.deploy button[type="submit"]');
    await page.waitForSelector('[data-errors] li');
    assert(await page.$('[data-result="applied"]') === null, 'applied anyway');
  });

  await step('Edit YAML of echo round-trips: the dry run says unchanged', async () => {
    await page.goto(base + '/ui/#/deploy/echo');
    await page.waitForFunction(() => {
      const t = document.querySelector('textarea[data-editor]');
      return t && !t.readOnly && /name: echo/.test(t.value);
    });
    await page.click('form.deploy button:text-is("Validate")');
    await page.waitForSelector('[data-result="valid"], [data-errors] li');
    const t = await page.textContent('.deploy-out');
    assert(/echo: would be unchanged/.test(t), 'dry run: ' + t + ' ' + (await page.textContent('[data-errors]')));
  });

  // 5. Phone width: same pages, one column, tables as cards.
  const phone = await newPage({ width: 390, height: 844 }, true);
  await step('phone: list, detail and deploy render without horizontal scrolling', async () => {
    await phone.goto(base + '/ui/');
    await phone.waitForSelector('tr[data-function="echo"]');
    const wide = async () => phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(await wide() <= 0, 'list overflows by ' + (await wide()) + 'px');
    await shot(phone, 'list-phone');
    await phone.goto(base + '/ui/#/fn/echo');
    await phone.waitForSelector('[data-condition="Ready"]');
    await phone.fill('textarea[name="body"]', 'phone ' + suffix);
    await phone.click('form.invoke button[type="submit"]');
    await phone.waitForSelector('[data-body]');
    assert(await wide() <= 0, 'detail overflows by ' + (await wide()) + 'px');
    await shot(phone, 'detail-phone');
    await phone.goto(base + '/ui/#/deploy');
    await phone.fill('textarea[data-editor]', badYaml);
    await phone.click('form.deploy button:text-is("Validate")');
    await phone.waitForSelector(`.gutter .ln.err[data-line="${badLine}"]`);
    assert(await wide() <= 0, 'deploy overflows by ' + (await wide()) + 'px');
    await shot(phone, 'deploy-error-phone');
  });

  // 6. Keyboard: the deploy link and the first function are reachable with Tab.
  await step('keyboard: Tab reaches the navigation and the list', async () => {
    await page.goto(base + '/ui/');
    await page.waitForSelector('tr[data-function="echo"]');
    const seen = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      seen.push(await page.evaluate(() => {
        const a = document.activeElement;
        return a.tagName + ':' + (a.getAttribute('href') || a.id || a.textContent.trim().slice(0, 20));
      }));
    }
    assert(seen.some((s) => s === 'A:#/deploy'), 'Tab order ' + seen.join(' '));
    assert(seen.some((s) => s.startsWith('A:#/fn/')), 'Tab order ' + seen.join(' '));
  });

  // 7. Delete with confirmation, from the function's page.
  await step('delete asks for confirmation, then removes the function', async () => {
    await page.goto(base + '/ui/#/fn/' + newName);
    await page.waitForSelector('[data-condition="Ready"]');
    await page.click('button:text-is("Delete…")');
    await page.waitForSelector('dialog[open]');
    await shot(page, 'delete-confirm-desktop');
    await page.click('dialog button:text-is("Cancel")');
    assert(await page.$('dialog[open]') === null, 'dialog still open');
    assert((await apiGet('/apis/faas/v1/functions')).items.some((f) => f.metadata.name === newName), 'cancel deleted it');
    await page.click('button:text-is("Delete…")');
    await page.click('dialog button:text-is("Delete")');
    await page.waitForSelector('h1:text-is("Functions")');
    await page.waitForFunction((n) => !document.querySelector(`tr[data-function="${n}"]`) && document.querySelector('tr[data-function="echo"]'), newName, { timeout: 20000 });
  });

  // 8. Opened as http://user:password@host/ui/ (a bookmark, a script): the
  // page's API calls must not be built on a URL holding credentials.
  await step('UI opened with credentials in the URL lists and invokes', async () => {
    const withCreds = await newPage({ width: 1280, height: 860 }, false, true);
    const u = new URL(base + '/ui/');
    u.username = user;
    u.password = password;
    const r = await withCreds.goto(u.href);
    assert(r && r.status() === 200, '/ui/ answered ' + (r && r.status()));
    await withCreds.waitForSelector('tr[data-function="echo"]');
    assert(!/Cannot list/.test(await withCreds.textContent('main')), 'the list shows an error');
    await withCreds.click('tr[data-function="echo"] a');
    await withCreds.fill('textarea[name="body"]', 'creds ' + suffix);
    await withCreds.click('form.invoke button[type="submit"]');
    await withCreds.waitForSelector('[data-body]', { timeout: 30000 });
    const body = await withCreds.textContent('[data-body]');
    assert(body.trim() === 'creds ' + suffix, 'body ' + JSON.stringify(body));
  });

  // 9. A page on another site, visited by a logged-in UI user, cannot change
  // the platform: neither an HTML form (text/plain, no preflight) nor a
  // no-cors fetch, though the browser adds the user's credentials to both.
  await step('a page on another site cannot deploy through the gateway', async () => {
    const body = JSON.stringify({ service: probe, image: 'faas/echo:latest' });
    // A text/plain form sends "name=value": the name holds the JSON up to a last string.
    const field = body.slice(0, -1) + ',"x":"';
    const target = base + '/system/functions';
    const html = '<!doctype html><title>elsewhere</title>' +
      `<form id="f" method="POST" enctype="text/plain" action="${target}">` +
      `<input type="hidden" name='${field}' value='"}'></form><script>` +
      `fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: ${JSON.stringify(body)} })` +
      ".catch(() => {}).finally(() => document.getElementById('f').submit());</script>";
    const srv = http.createServer((q, r) => { r.writeHead(200, { 'Content-Type': 'text/html' }); r.end(html); });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const seen = [];
    const onResponse = (r) => { if (r.url() === target && r.request().method() === 'POST') seen.push(r.status()); };
    page.on('response', onResponse);
    try {
      // localhost, not 127.0.0.1, and another port: another site to the browser.
      await page.goto('http://localhost:' + srv.address().port + '/');
      await page.waitForURL(target, { timeout: 15000 });
      await page.waitForTimeout(500);
      assert(seen.length >= 2, 'the gateway saw ' + seen.length + ' of the 2 posts');
      assert(seen.every((st) => st === 403), 'the gateway answered ' + seen.join(', '));
      const r = await fetch(base + '/system/function/' + probe, { headers: { Authorization: auth } });
      assert(r.status === 404, 'the function ' + probe + ' exists (GET answered ' + r.status + ')');
    } finally {
      page.off('response', onResponse);
      srv.close();
    }
  });

  await step('no script errors in the page', async () => {
    assert(pageErrors.length === 0, pageErrors.join(' | '));
  });
} catch (e) {
  fail('ui test ran to the end', e.stack || e.message);
} finally {
  await apiDelete(newName);
  await apiDelete(probe);
  for (const c of contexts) await c.close().catch(() => {});
  for (const p of profiles) fs.rmSync(p, { recursive: true, force: true });
}
process.exit(0);
