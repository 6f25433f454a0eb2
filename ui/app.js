// faas web UI: list, inspect, invoke, scale, delete and deploy functions.
// Plain browser JavaScript, no dependencies, no build step. Talks to the
// gateway on the same origin: /apis/faas/v1/functions (controller, through the
// gateway's basic auth), /system/scale-function/{name} and /function/{name}.
// Every string from the server or the user reaches the page through
// textContent or setAttribute (never innerHTML), so nothing is interpreted.
'use strict';

(function () {
  const API = '/apis/faas/v1/functions';
  const POLL_MS = 3000;
  const BODY_SHOW_MAX = 256 * 1024; // characters of a response body shown
  const DRAFT_KEY = 'faas-ui-draft';

  const TEMPLATE = [
    '# A function: any program that reads STDIN and writes STDOUT.',
    '# Apply sends this document to the controller; Validate only checks it.',
    'apiVersion: faas/v1',
    'kind: Function',
    'metadata:',
    '  name: hello',
    '  labels: {team: demo}',
    'spec:',
    '  image: faas/echo:latest    # an image present on the swarm nodes',
    '  fprocess: cat              # the process the watchdog runs per request',
    '  mode: fork                 # fork | http | streaming',
    '  env: {}',
    '  scale: {min: 1, max: 5}',
    '  timeouts: {read: 10s, write: 10s, exec: 10s}',
    ''
  ].join('\n');

  // ---------------------------------------------------------------- DOM helpers

  // h('tag', {attr: value, class: 'x', text: 'y', onclick: fn}, ...children).
  // Strings and numbers become text nodes; null, undefined and false are skipped.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    append(el, kids);
    return el;
  }

  function append(el, kids) {
    if (!Array.isArray(kids)) kids = [kids];
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(el, k);
      else if (k instanceof Node) el.appendChild(k);
      else el.appendChild(document.createTextNode(String(k)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function setText(el, s) {
    s = String(s);
    if (el.textContent !== s) el.textContent = s;
  }

  function fnHref(name) {
    return '#/fn/' + encodeURIComponent(name);
  }

  let uid = 0;
  function newId(prefix) {
    uid += 1;
    return prefix + '-' + uid;
  }

  function announce(msg) {
    const el = document.getElementById('announce');
    el.textContent = '';
    // A fresh text node makes screen readers speak it again even when equal.
    setTimeout(() => { el.textContent = msg; }, 30);
  }

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString();
  }

  function ago(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return '';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 0) return 'just now';
    if (s < 90) return s + 's ago';
    if (s < 5400) return Math.round(s / 60) + 'm ago';
    if (s < 129600) return Math.round(s / 3600) + 'h ago';
    return Math.round(s / 86400) + 'd ago';
  }

  function num(n) {
    return typeof n === 'number' && isFinite(n) ? n.toLocaleString('en-US') : '–';
  }

  // ------------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, message, details) {
      super(message);
      this.status = status;
      this.details = details || [];
    }
  }

  // An absolute URL on the page's origin. A page opened as
  // http://user:password@host/ui/ has the credentials in its base URL, and
  // fetch() refuses a relative URL resolved against it ("Request cannot be
  // constructed from a URL that includes credentials"): location.origin
  // never carries them, and the browser still sends the credentials it
  // cached for the origin.
  function url(path) {
    return location.origin + path;
  }

  // api('GET', path) → {status, data, headers}; throws ApiError on a non-2xx
  // answer (with the controller's {"error", "details"}) or a network failure.
  async function api(method, path, body, type) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.body = body;
      opts.headers['Content-Type'] = type || 'application/json';
    }
    let res;
    try {
      res = await fetch(url(path), opts);
    } catch (e) {
      throw new ApiError(0, 'cannot reach the gateway (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      let msg = data && typeof data.error === 'string' ? data.error : text.trim().slice(0, 500);
      if (res.status === 401) msg = 'not signed in: reload the page and enter the gateway credentials';
      if (!msg) msg = res.status + ' ' + res.statusText;
      const details = data && Array.isArray(data.details) ? data.details : [];
      throw new ApiError(res.status, msg, details);
    }
    return { status: res.status, data, headers: res.headers };
  }

  function readyOf(fn) {
    const conds = (fn.status && fn.status.conditions) || [];
    return conds.find((c) => c && c.type === 'Ready') || null;
  }

  // A badge for a condition status: text first (colour only repeats it).
  function readyBadge(cond) {
    const st = cond ? String(cond.status) : 'Unknown';
    const label = st === 'True' ? 'Ready' : st === 'False' ? 'Not ready' : 'Unknown';
    const el = h('span', { class: 'badge ' + (st === 'True' ? 'ok' : st === 'False' ? 'bad' : 'unknown'), 'data-ready': st }, label);
    if (cond && (cond.reason || cond.message)) {
      el.title = [cond.reason, cond.message].filter(Boolean).join(': ');
    }
    return el;
  }

  // ------------------------------------------------------- YAML: emit and read

  const YAML_PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@%+=:-]*( [A-Za-z0-9_./@%+=()-]+)*$/;
  const YAML_RESERVED = /^(true|false|yes|no|on|off|null|y|n|~|[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$/i;

  function yamlScalar(v) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean' || typeof v === 'number') return String(v);
    const s = String(v);
    if (s !== '' && YAML_PLAIN.test(s) && !YAML_RESERVED.test(s) && !/:( |$)/.test(s)) return s;
    return JSON.stringify(s); // a JSON string is a valid double-quoted YAML scalar
  }

  function isEmpty(v) {
    return v === null || v === undefined || v === '' ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
  }

  function yamlKey(k) {
    return /^[A-Za-z_][A-Za-z0-9_.\/-]*$/.test(k) && !/^(true|false|yes|no|on|off|null)$/i.test(k) ? k : JSON.stringify(k);
  }

  // Block-style YAML of a JSON value; empty maps, lists and strings are left out.
  function toYaml(v, indent) {
    indent = indent || '';
    const out = [];
    if (Array.isArray(v)) {
      for (const item of v) {
        if (item && typeof item === 'object' && !isEmpty(item)) {
          const inner = toYaml(item, indent + '  ').replace(/^\s+/, '');
          out.push(indent + '- ' + inner);
        } else {
          out.push(indent + '- ' + yamlScalar(item));
        }
      }
      return out.join('\n');
    }
    for (const [k, val] of Object.entries(v)) {
      if (isEmpty(val)) continue;
      if (typeof val === 'object') out.push(indent + yamlKey(k) + ':\n' + toYaml(val, indent + '  '));
      else out.push(indent + yamlKey(k) + ': ' + yamlScalar(val));
    }
    return out.join('\n');
  }

  // The user's YAML for a live Function: what `faasctl get -o yaml` would give
  // minus the server-set fields, ready to edit and apply again.
  function functionYaml(fn) {
    const md = fn.metadata || {};
    const doc = { apiVersion: fn.apiVersion || 'faas/v1', kind: fn.kind || 'Function', metadata: { name: md.name } };
    if (!isEmpty(md.labels)) doc.metadata.labels = md.labels;
    if (!isEmpty(md.annotations)) doc.metadata.annotations = md.annotations;
    doc.spec = fn.spec || {};
    return toYaml(doc) + '\n';
  }

  // Splits a YAML stream into documents at "---" lines. Each document keeps
  // the 0-based index of its first line, so errors map back to the editor.
  function splitDocs(text) {
    const lines = text.split('\n');
    const docs = [];
    let cur = { start: 0, lines: [] };
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (/^---(\s.*)?$/.test(l) || /^\.\.\.\s*$/.test(l)) {
        docs.push(cur);
        // The marker line stays in the next document (blank), keeping lines aligned.
        cur = { start: i + 1, lines: [] };
        continue;
      }
      cur.lines.push(l);
    }
    docs.push(cur);
    return docs.filter((d) => d.lines.some((l) => !/^\s*(#.*)?$/.test(l)))
      .map((d) => ({ start: d.start, text: d.lines.join('\n') + '\n', lines: d.lines }));
  }

  // Strips a trailing " # comment" outside quotes.
  function stripComment(s) {
    let q = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (q) {
        if (c === q) {
          if (q === "'" && s[i + 1] === "'") { i++; continue; }
          q = '';
        } else if (c === '\\' && q === '"') i++;
      } else if (c === '"' || c === "'") {
        q = c;
      } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) {
        return s.slice(0, i);
      }
    }
    return s;
  }

  // A scalar as YAML reads it for the cases a name can take: plain,
  // 'single' (with '' for a quote) or "double" (JSON escapes). null on error.
  function readScalar(raw) {
    const s = stripComment(raw).trim();
    if (s.startsWith('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"$/.exec(s);
      if (!m) return null;
      try { return JSON.parse('"' + m[1] + '"'); } catch (e) { return null; }
    }
    if (s.startsWith("'")) {
      const m = /^'((?:[^']|'')*)'$/.exec(s);
      return m ? m[1].replace(/''/g, "'") : null;
    }
    if (/^[\[{&*!|>%@`]/.test(s)) return null;
    return s;
  }

  // Finds metadata.name in one document (block or flow style).
  // → {name, line} (line 1-based within the document) or {error, line}.
  function extractName(doc) {
    const lines = doc.lines;
    let i = 0;
    for (; i < lines.length; i++) {
      if (/^(["']?)metadata\1\s*:/.test(lines[i])) break;
    }
    if (i === lines.length) {
      if (lines.some((l) => /^functions\s*:/.test(l)) && lines.some((l) => /^provider\s*:/.test(l))) {
        return { error: 'this is an OpenFaaS stack.yml: use `faasctl apply` for it, the UI takes Function documents (apiVersion: faas/v1)', line: 1 };
      }
      return { error: 'metadata.name is missing (the function needs a name)', line: 1 };
    }
    const rest = stripComment(lines[i].replace(/^(["']?)metadata\1\s*:/, '')).trim();
    if (rest.startsWith('{')) {
      const m = /[{,]\s*(["']?)name\1\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,}]*)/.exec(rest);
      const v = m ? readScalar(m[2]) : null;
      if (v) return { name: v, line: i + 1 };
      return { error: 'metadata.name is missing or not a plain string', line: i + 1 };
    }
    if (rest !== '') return { error: 'metadata must be a mapping with a name', line: i + 1 };
    let childIndent = -1;
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j];
      if (/^\s*(#.*)?$/.test(l)) continue;
      const ind = /^ */.exec(l)[0].length;
      if (ind === 0) break; // the next top-level key: metadata ended
      if (childIndent < 0) childIndent = ind;
      if (ind !== childIndent) continue;
      const m = /^\s*(["']?)name\1\s*:(.*)$/.exec(l);
      if (m) {
        const v = readScalar(m[2]);
        if (v) return { name: v, line: j + 1 };
        return { error: 'metadata.name must be a plain string', line: j + 1 };
      }
    }
    return { error: 'metadata.name is missing (the function needs a name)', line: i + 1 };
  }

  // Line and column of a controller error: details[].line, else the
  // "file:line:col: field: message" form of the error string.
  function errorLine(d) {
    if (d && Number.isInteger(d.line) && d.line > 0) return d.line;
    const m = /(?:^|:)(\d+):(\d+): /.exec((d && (d.message || d.error)) || '');
    return m ? parseInt(m[1], 10) : 0;
  }

  // --------------------------------------------------------------- the router

  const main = document.getElementById('main');
  const conn = document.getElementById('conn');
  let view = null; // {refresh(): Promise, stop(), busy}

  function route() {
    if (view && view.stop) view.stop();
    view = null;
    const hash = location.hash || '#/';
    let m;
    document.querySelectorAll('[data-nav]').forEach((a) => a.removeAttribute('aria-current'));
    if (hash === '#/' || hash === '#') {
      view = listView();
      markNav('list');
    } else if ((m = /^#\/fn\/([^/]+)$/.exec(hash))) {
      view = detailView(safeDecode(m[1]));
      markNav('list');
    } else if (hash === '#/deploy') {
      view = deployView(null);
      markNav('deploy');
    } else if ((m = /^#\/deploy\/([^/]+)$/.exec(hash))) {
      view = deployView(safeDecode(m[1]));
      markNav('deploy');
    } else {
      clear(main);
      append(main, [h('h1', { tabindex: '-1' }, 'Not found'), h('p', null, h('a', { href: '#/' }, 'Back to the functions'))]);
    }
    if (view && view.refresh) tick();
  }

  function safeDecode(s) {
    try { return decodeURIComponent(s); } catch (e) { return s; }
  }

  function markNav(which) {
    const a = document.querySelector('[data-nav="' + which + '"]');
    if (a) a.setAttribute('aria-current', 'page');
  }

  // Moves focus to the new page's heading after a navigation (not on load).
  let navigated = false;
  function focusHeading() {
    if (!navigated) return;
    const h1 = main.querySelector('h1');
    if (h1) {
      h1.setAttribute('tabindex', '-1');
      h1.focus();
    }
  }

  function setConn(ok, msg) {
    conn.className = 'conn ' + (ok ? 'ok' : 'bad');
    setText(conn, msg);
  }

  // One refresh at a time per view; a new view does not wait for the old one's.
  async function tick() {
    const v = view;
    if (!v || !v.refresh || v.busy || document.hidden) return;
    v.busy = true;
    try {
      const fetched = await v.refresh();
      if (v === view && fetched !== false) setConn(true, 'Live · updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      // Short here; the page's own banner has the whole message.
      if (v === view) {
        setConn(false, e.status === 401 ? 'Not signed in: reload the page'
          : e.status ? 'Error ' + e.status + ', retrying' : 'Gateway unreachable, retrying');
      }
    } finally {
      v.busy = false;
    }
  }

  // ---------------------------------------------------------- the list view

  function listView() {
    clear(main);
    const filterId = newId('filter');
    const filter = h('input', { id: filterId, type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'name or image' });
    const count = h('p', { class: 'meta', id: 'fn-count' }, '');
    const tbody = h('tbody');
    const table = h('table', { class: 'fnlist', 'aria-describedby': 'fn-count' },
      h('caption', { class: 'sr-only' }, 'Functions, refreshed every few seconds'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Image'),
        h('th', { scope: 'col' }, 'Ready'),
        h('th', { scope: 'col' }, h('abbr', { title: 'available / desired replicas' }, 'Replicas')),
        h('th', { scope: 'col', class: 'num' }, 'Invocations'))),
      tbody);
    const empty = h('div', { class: 'empty', hidden: true },
      h('p', null, 'No functions yet.'), h('p', null, h('a', { href: '#/deploy', class: 'button' }, 'Deploy a function')));
    const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
    const wrap = h('div', { class: 'tablewrap' }, table);
    append(main, [
      h('div', { class: 'pagehead' },
        h('h1', null, 'Functions'),
        h('a', { href: '#/deploy', class: 'button primary' }, 'Deploy a function')),
      flashBanner(),
      h('div', { class: 'toolbar' },
        h('label', { for: filterId }, 'Filter'), filter, count),
      error,
      wrap,
      empty
    ]);
    focusHeading();

    const rows = new Map(); // name → {tr, cells, key}
    let items = [];
    let loaded = false;

    function render() {
      const q = filter.value.trim().toLowerCase();
      const shown = items.filter((fn) => {
        const name = (fn.metadata && fn.metadata.name) || '';
        const image = (fn.spec && fn.spec.image) || '';
        return !q || name.toLowerCase().includes(q) || image.toLowerCase().includes(q);
      });
      const seen = new Set();
      let prev = null;
      for (const fn of shown) {
        const name = String((fn.metadata && fn.metadata.name) || '');
        seen.add(name);
        let r = rows.get(name);
        if (!r) {
          const c = {
            name: h('td', { 'data-label': 'Name', class: 'name' }, h('a', { href: fnHref(name) }, name)),
            image: h('td', { 'data-label': 'Image', class: 'image' }),
            ready: h('td', { 'data-label': 'Ready' }),
            replicas: h('td', { 'data-label': 'Replicas', class: 'num' }),
            inv: h('td', { 'data-label': 'Invocations', class: 'num' })
          };
          r = { tr: h('tr', { 'data-function': name }, c.name, c.image, c.ready, c.replicas, c.inv), cells: c, readyKey: '' };
          rows.set(name, r);
        }
        const st = fn.status || {};
        setText(r.cells.image, (fn.spec && fn.spec.image) || '');
        const cond = readyOf(fn);
        const readyKey = JSON.stringify(cond);
        if (readyKey !== r.readyKey) {
          r.readyKey = readyKey;
          clear(r.cells.ready).appendChild(readyBadge(cond));
        }
        setText(r.cells.replicas, num(st.availableReplicas) + ' / ' + num(st.replicas));
        setText(r.cells.inv, num(st.invocationCount));
        // Move a row only when it is out of place: moving a node drops its focus.
        const want = prev ? prev.nextSibling : tbody.firstChild;
        if (want !== r.tr) tbody.insertBefore(r.tr, want);
        prev = r.tr;
      }
      for (const [name, r] of rows) {
        if (!seen.has(name)) {
          r.tr.remove();
          rows.delete(name);
        }
      }
      const total = items.length;
      setText(count, q ? shown.length + ' of ' + total + ' functions' : total + (total === 1 ? ' function' : ' functions'));
      empty.hidden = !loaded || total !== 0;
      wrap.hidden = loaded && total === 0;
    }

    filter.addEventListener('input', render);

    return {
      async refresh() {
        try {
          const r = await api('GET', API);
          items = (r.data && Array.isArray(r.data.items)) ? r.data.items : [];
          // Byte order, as the controller sorts (localeCompare would skip the '-').
          const key = (f) => String((f.metadata && f.metadata.name) || '');
          items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
          loaded = true;
          error.hidden = true;
          render();
        } catch (e) {
          error.hidden = false;
          setText(error, 'Cannot list the functions: ' + e.message);
          throw e;
        }
      }
    };
  }

  // ------------------------------------------------------------- the charts

  // The last 15 minutes of a function, from the gateway (GET
  // /ui/history/NAME: one point per step, oldest first, null where there is
  // no value). Drawn as inline SVG: no library.
  const HISTORY_SPAN_S = 15 * 60;
  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  function fmtNum(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (unit === 's') return v < 1 ? (v * 1000).toPrecision(3).replace(/\.?0+$/, '') + ' ms' : v.toPrecision(3) + ' s';
    if (unit === '%') return (v * 100).toFixed(v === 0 ? 0 : 1) + ' %';
    if (unit === '/s') return (v >= 100 ? Math.round(v) : v.toPrecision(3).replace(/\.?0+$/, '')) + '/s';
    return String(Math.round(v));
  }

  const CHARTS = [
    { key: 'rate', title: 'Invocations', unit: '/s', series: [['invocations_per_second', 'rate']] },
    { key: 'errors', title: 'Errors (5xx)', unit: '%', series: [['error_ratio', 'errors']], min: 0.01 },
    { key: 'latency', title: 'Latency p50 / p99', unit: 's', series: [['p50_seconds', 'p50'], ['p99_seconds', 'p99']] },
    { key: 'replicas', title: 'Replicas', unit: '', series: [['replicas', 'replicas']], min: 1 }
  ];
  const W = 300, H = 90, PAD_T = 6, PAD_B = 14;

  // chartsPanel() → {el, update(history)}
  function chartsPanel() {
    const el = h('div', { class: 'charts' });
    const note = h('p', { class: 'muted small', 'data-charts-note': '' }, 'Loading…');
    const parts = CHARTS.map((c) => {
      const last = h('span', { class: 'chart-last', 'data-last': '' }, '–');
      const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-chart': c.key, 'data-points': 0 });
      const title = svgEl('title');
      svg.appendChild(title);
      const fig = h('figure', { class: 'chart' },
        h('figcaption', null, h('span', null, c.title), ' ', last), svg);
      el.appendChild(fig);
      return { c, svg, title, last };
    });
    el.appendChild(note);

    function update(hist) {
      const t = Array.isArray(hist && hist.t) ? hist.t : [];
      const end = t.length ? t[t.length - 1] : Date.now() / 1000;
      const start = end - HISTORY_SPAN_S;
      const x = (ts) => ((ts - start) / HISTORY_SPAN_S) * W;
      setText(note, t.length
        ? 'Last 15 minutes, one point per ' + ((hist && hist.step_seconds) || 10) + ' s, from the gateway.'
        : 'No data yet: the gateway records a point every ' + ((hist && hist.step_seconds) || 10) + ' s.');
      for (const p of parts) {
        const { c, svg } = p;
        while (svg.lastChild !== p.title) svg.removeChild(svg.lastChild);
        let max = c.min || 0;
        const cols = c.series.map(([k]) => (Array.isArray(hist && hist[k]) ? hist[k] : []));
        for (const col of cols) for (const v of col) if (typeof v === 'number' && isFinite(v) && v > max) max = v;
        if (max <= 0) max = 1;
        const y = (v) => PAD_T + (1 - v / max) * (H - PAD_T - PAD_B);
        svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: y(0), y2: y(0), class: 'axis' }));
        const top = svgEl('text', { x: 2, y: PAD_T + 8, class: 'tick' });
        top.textContent = fmtNum(max, c.unit);
        svg.appendChild(top);
        const left = svgEl('text', { x: 2, y: H - 2, class: 'tick' });
        left.textContent = '−15 min';
        svg.appendChild(left);
        const right = svgEl('text', { x: W - 2, y: H - 2, class: 'tick', 'text-anchor': 'end' });
        right.textContent = 'now';
        svg.appendChild(right);
        let points = 0;
        const lastVals = [];
        cols.forEach((col, si) => {
          let d = '';
          let pen = false;
          let lastV = null;
          for (let i = 0; i < t.length; i++) {
            const v = col[i];
            if (typeof v !== 'number' || !isFinite(v)) { pen = false; continue; }
            d += (pen ? 'L' : 'M') + x(t[i]).toFixed(1) + ' ' + y(v).toFixed(1);
            pen = true;
            points++;
            lastV = v;
          }
          // A lone point still shows: a dot.
          if (d) svg.appendChild(svgEl('path', { d, class: 'series s' + si, 'data-series': c.series[si][1], 'vector-effect': 'non-scaling-stroke' }));
          lastVals.push(lastV);
        });
        svg.setAttribute('data-points', points);
        svg.setAttribute('data-last', lastVals.map((v) => (v === null ? '' : v)).join(' '));
        setText(p.last, lastVals.map((v) => fmtNum(v, c.unit)).join(' / '));
        setText(p.title, c.title + ' over the last 15 minutes; latest ' + p.last.textContent);
      }
    }
    return { el, update };
  }

  // -------------------------------------------------------- the detail view

  function detailView(name) {
    clear(main);
    let stopped = false;
    const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
    const summary = h('dl', { class: 'summary' });
    const conds = h('div');
    const tasks = h('div');
    const spec = h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Spec as YAML' });
    const last = {};
    let fn = null;
    let notFound = false;

    const invoke = invokeForm(name);
    const scale = scaleForm(name, () => fn);
    const charts = chartsPanel();
    let historyAt = 0;
    const del = h('button', { type: 'button', class: 'danger' }, 'Delete…');
    del.addEventListener('click', async () => {
      const ok = await confirmDialog('Delete function ' + name + '?',
        'Its Swarm service and every replica are removed. This cannot be undone.', 'Delete');
      if (!ok) return;
      del.disabled = true;
      try {
        await api('DELETE', API + '/' + encodeURIComponent(name));
        announce('Deleted ' + name);
        flash = 'Deleted ' + name + '.';
        navigated = true;
        location.hash = '#/';
      } catch (e) {
        error.hidden = false;
        setText(error, 'Delete failed: ' + e.message);
        del.disabled = false;
      }
    });

    append(main, [
      h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: '#/' }, 'Functions'), ' / ', h('span', { 'aria-current': 'page' }, name)),
      h('div', { class: 'pagehead' },
        h('h1', null, name),
        h('div', { class: 'actions' },
          h('a', { class: 'button', href: '#/deploy/' + encodeURIComponent(name) }, 'Edit YAML'),
          del)),
      flashBanner(),
      error,
      h('div', { class: 'detail' },
        h('div', { class: 'col' },
          h('section', { class: 'sec-status', 'aria-labelledby': 'sec-status' }, h('h2', { id: 'sec-status' }, 'Status'), summary),
          h('section', { class: 'sec-charts', 'aria-labelledby': 'sec-charts' }, h('h2', { id: 'sec-charts' }, 'Last 15 minutes'), charts.el),
          h('section', { class: 'sec-conds', 'aria-labelledby': 'sec-conds' }, h('h2', { id: 'sec-conds' }, 'Conditions'), conds),
          h('section', { class: 'sec-tasks', 'aria-labelledby': 'sec-tasks' }, h('h2', { id: 'sec-tasks' }, 'Replicas'), tasks),
          h('section', { class: 'sec-spec', 'aria-labelledby': 'sec-spec' }, h('h2', { id: 'sec-spec' }, 'Spec'), spec)),
        h('div', { class: 'col' },
          h('section', { class: 'sec-invoke', 'aria-labelledby': 'sec-invoke' }, h('h2', { id: 'sec-invoke' }, 'Invoke'), invoke),
          h('section', { class: 'sec-scale', 'aria-labelledby': 'sec-scale' }, h('h2', { id: 'sec-scale' }, 'Scale'), scale.el)))
    ]);
    focusHeading();

    function changed(key, value) {
      const s = JSON.stringify(value);
      if (last[key] === s) return false;
      last[key] = s;
      return true;
    }

    function renderSummary() {
      const st = fn.status || {};
      const md = fn.metadata || {};
      const cond = readyOf(fn);
      clear(summary);
      const row = (k, ...v) => [h('dt', null, k), h('dd', null, ...v)];
      append(summary, [
        row('Ready', readyBadge(cond), cond && cond.message ? h('span', { class: 'muted' }, ' ' + cond.message) : null),
        row('Replicas', h('span', { 'data-replicas': '' }, num(st.availableReplicas) + ' available / ' + num(st.replicas) + ' desired')),
        row('Invocations', h('span', { 'data-invocations': '' }, num(st.invocationCount))),
        row('Image', h('code', null, (fn.spec && fn.spec.image) || '')),
        row('Generation', num(md.generation) + (st.observedGeneration !== undefined && st.observedGeneration !== md.generation
          ? ' (observed ' + num(st.observedGeneration) + ', reconciling)' : ' (observed)')),
        row('Created', md.creationTimestamp ? h('time', { datetime: md.creationTimestamp, title: fmtTime(md.creationTimestamp) }, ago(md.creationTimestamp)) : '–')
      ]);
    }

    function renderConds() {
      const list = (fn.status && fn.status.conditions) || [];
      clear(conds);
      if (!list.length) {
        conds.appendChild(h('p', { class: 'muted' }, 'No conditions reported yet.'));
        return;
      }
      // A list, not a table: reasons and messages are long and must wrap at any width.
      conds.appendChild(h('ul', { class: 'conds' }, list.map((c) => h('li', { 'data-condition': c.type },
        h('div', { class: 'cond-head' },
          h('strong', null, c.type), ' ',
          h('span', { class: 'badge ' + condClass(c), 'data-cond-status': c.status }, c.status),
          c.lastTransitionTime ? h('span', { class: 'muted small' }, ' since ',
            h('time', { datetime: c.lastTransitionTime, title: fmtTime(c.lastTransitionTime) }, ago(c.lastTransitionTime))) : null),
        c.reason || c.message ? h('p', { class: 'cond-msg' },
          c.reason ? h('span', { class: 'reason' }, c.reason) : null,
          c.reason && c.message ? ': ' : null,
          c.message || null) : null))));
    }

    // Ready=True and Degraded=False are good news; Progressing is neither.
    function condClass(c) {
      const good = { Ready: 'True', Degraded: 'False' }[c.type];
      if (!good || (c.status !== 'True' && c.status !== 'False')) return 'neutral';
      return c.status === good ? 'ok' : 'bad';
    }

    function renderTasks() {
      const list = (fn.status && fn.status.tasks) || [];
      clear(tasks);
      if (!list.length) {
        tasks.appendChild(h('p', { class: 'muted' }, 'No tasks.'));
        return;
      }
      const anyError = list.some((t) => t.error);
      const heads = ['Task', 'Node', 'State', 'Since'].concat(anyError ? ['Error'] : []);
      tasks.appendChild(h('div', { class: 'tablewrap' }, h('table', { class: 'cards' },
        h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, list.map((t) => h('tr', { 'data-task': t.id || '' },
          h('td', { 'data-label': 'Task' }, h('code', { title: t.id || '' }, String(t.id || '').slice(0, 12))),
          // The node's host name (the controller adds it); its ID otherwise.
          h('td', { 'data-label': 'Node', class: 'wrap', 'data-node': t.node || '' },
            t.nodeName ? h('span', { title: 'node ' + (t.node || '') }, t.nodeName) : String(t.node || '')),
          h('td', { 'data-label': 'State' }, h('span', null,
            h('span', { class: 'badge ' + (t.state === 'running' ? 'ok' : /fail|reject|orphan/.test(t.state || '') ? 'bad' : 'unknown') }, t.state || '?'),
            t.desiredState && t.desiredState !== t.state ? h('span', { class: 'muted small' }, ' → ' + t.desiredState) : null)),
          h('td', { 'data-label': 'Since' }, t.timestamp ? h('time', { datetime: t.timestamp, title: fmtTime(t.timestamp) }, ago(t.timestamp)) : ''),
          anyError ? h('td', { 'data-label': 'Error', class: 'wrap' }, t.error || '') : null))))));
    }

    return {
      stop() { stopped = true; },
      async refresh() {
        try {
          const r = await api('GET', API + '/' + encodeURIComponent(name));
          if (stopped) return;
          fn = r.data || {};
          notFound = false;
          error.hidden = true;
          renderSummary(); // relative times move: cheap, holds nothing focusable
          if (changed('conds', fn.status && fn.status.conditions)) renderConds();
          else conds.querySelectorAll('time').forEach((t) => setText(t, ago(t.getAttribute('datetime'))));
          if (changed('tasks', fn.status && fn.status.tasks)) renderTasks();
          if (changed('spec', fn.spec)) setText(spec, toYaml(fn.spec || {}) || '{}');
          scale.update(fn);
          // The gateway records a point every 10 s: no need to ask more often.
          if (Date.now() - historyAt >= 5000) {
            historyAt = Date.now();
            api('GET', '/ui/history/' + encodeURIComponent(name))
              .then((hr) => { if (!stopped) charts.update(hr.data); })
              .catch(() => { if (!stopped) charts.update(null); });
          }
        } catch (e) {
          if (stopped) return;
          error.hidden = false;
          if (e.status === 404) {
            notFound = true;
            setText(error, 'Function ' + name + ' does not exist (any more).');
            return;
          }
          setText(error, 'Cannot read ' + name + ': ' + e.message);
          throw e;
        }
      },
      get notFound() { return notFound; }
    };
  }

  // One-shot message carried across a navigation (e.g. "Deleted x").
  let flash = '';
  function flashBanner() {
    if (!flash) return null;
    const el = h('p', { class: 'banner ok', role: 'status' }, flash);
    flash = '';
    return el;
  }

  // ---------------------------------------------------------------- invoke

  const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  function parseHeaders(text) {
    const out = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i].replace(/\r$/, '');
      if (!l.trim()) continue;
      const c = l.indexOf(':');
      const k = c > 0 ? l.slice(0, c).trim() : '';
      if (!TOKEN.test(k)) throw new Error('headers, line ' + (i + 1) + ': expected "Name: value"');
      out.push([k, l.slice(c + 1).trim()]);
    }
    return out;
  }

  function invokeForm(name) {
    const ids = { m: newId('method'), p: newId('path'), hd: newId('headers'), b: newId('body') };
    const method = h('select', { id: ids.m, name: 'method' }, METHODS.map((m) => h('option', { value: m }, m)));
    const path = h('input', { id: ids.p, name: 'path', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '/optional/path?query=1' });
    const headers = h('textarea', { id: ids.hd, name: 'headers', rows: '2', spellcheck: 'false', placeholder: 'Content-Type: text/plain', 'aria-describedby': ids.hd + '-help' });
    const body = h('textarea', { id: ids.b, name: 'body', rows: '5', spellcheck: 'false', placeholder: 'request body' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Invoke');
    const formErr = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const result = h('div', { class: 'response', 'aria-live': 'polite', 'data-response': '' });
    const reqLine = h('code', { class: 'url' });
    const updateUrl = () => setText(reqLine, method.value + ' /function/' + name + normPath(path.value));
    method.addEventListener('change', updateUrl);
    path.addEventListener('input', updateUrl);
    updateUrl();

    const form = h('form', { class: 'invoke', novalidate: true },
      h('div', { class: 'row' },
        h('div', { class: 'field narrow' }, h('label', { for: ids.m }, 'Method'), method),
        h('div', { class: 'field grow' }, h('label', { for: ids.p }, 'Path and query'), path)),
      h('p', { class: 'muted small' }, 'Request: ', reqLine),
      h('div', { class: 'field' }, h('label', { for: ids.hd }, 'Headers'), headers,
        h('p', { class: 'muted small', id: ids.hd + '-help' }, 'One per line, "Name: value".')),
      h('div', { class: 'field' }, h('label', { for: ids.b }, 'Body'), body),
      formErr,
      h('div', { class: 'actions' }, submit),
      result);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      formErr.hidden = true;
      let hdrs;
      try {
        hdrs = parseHeaders(headers.value);
      } catch (e) {
        formErr.hidden = false;
        setText(formErr, e.message);
        headers.focus();
        return;
      }
      const m = method.value;
      if ((m === 'GET' || m === 'HEAD') && body.value !== '') {
        formErr.hidden = false;
        setText(formErr, 'A browser cannot send a body with ' + m + ': clear the body or pick another method.');
        body.focus();
        return;
      }
      const init = { method: m, headers: new Headers(), credentials: 'same-origin', cache: 'no-store', redirect: 'manual' };
      try {
        for (const [k, v] of hdrs) init.headers.append(k, v);
      } catch (e) {
        formErr.hidden = false;
        setText(formErr, 'Header refused by the browser: ' + e.message);
        return;
      }
      if (m !== 'GET' && m !== 'HEAD') init.body = body.value;
      submit.disabled = true;
      setText(submit, 'Invoking…');
      clear(result);
      const t0 = performance.now();
      try {
        const res = await fetch(url('/function/' + encodeURIComponent(name) + normPath(path.value)), init);
        const tHead = performance.now() - t0;
        const text = await res.text();
        const total = performance.now() - t0;
        showResponse(result, res, text, tHead, total);
        announce('Response ' + res.status + ' in ' + Math.round(total) + ' milliseconds');
      } catch (e) {
        clear(result).appendChild(h('p', { class: 'banner error' }, 'Request failed: ' + e.message));
      } finally {
        submit.disabled = false;
        setText(submit, 'Invoke');
      }
    });
    return form;
  }

  function normPath(p) {
    p = p.trim();
    if (!p) return '';
    if (p[0] === '/' || p[0] === '?') return p;
    return '/' + p;
  }

  function fmtMs(ms) {
    return ms < 10 ? ms.toFixed(1) + ' ms' : Math.round(ms) + ' ms';
  }

  function showResponse(el, res, text, tHead, total) {
    clear(el);
    const cls = res.status >= 200 && res.status < 300 ? 'ok' : res.status >= 400 || res.status === 0 ? 'bad' : 'unknown';
    const hdrRows = [];
    res.headers.forEach((v, k) => hdrRows.push(h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v))));
    const bytes = new TextEncoder().encode(text).length;
    const shown = text.length > BODY_SHOW_MAX ? text.slice(0, BODY_SHOW_MAX) : text;
    append(el, [
      h('p', { class: 'status-line' },
        h('span', { class: 'badge ' + cls, 'data-status': res.status }, res.status === 0 ? 'redirect' : String(res.status) + (res.statusText ? ' ' + res.statusText : '')),
        ' ', h('span', { 'data-time': '' }, fmtMs(total)),
        h('span', { class: 'muted' }, ' (headers after ' + fmtMs(tHead) + ') · ' + bytes.toLocaleString('en-US') + ' bytes')),
      h('details', null, h('summary', null, 'Response headers (' + hdrRows.length + ')'),
        h('div', { class: 'tablewrap' }, h('table', { class: 'kv' }, h('tbody', null, hdrRows)))),
      h('h3', null, 'Body'),
      h('pre', { class: 'code body', tabindex: '0', 'aria-label': 'Response body', 'data-body': '' }, shown === '' ? '' : shown),
      text.length > shown.length ? h('p', { class: 'muted small' }, 'Showing the first ' + BODY_SHOW_MAX.toLocaleString('en-US') + ' characters.') : null
    ]);
  }

  // ----------------------------------------------------------------- scale

  function scaleForm(name, getFn) {
    const id = newId('replicas');
    const input = h('input', { id, type: 'number', min: '0', step: '1', inputmode: 'numeric', required: true, 'aria-describedby': id + '-help' });
    const help = h('p', { class: 'muted small', id: id + '-help' }, '');
    const msg = h('p', { class: 'small', role: 'status' });
    const submit = h('button', { type: 'submit' }, 'Scale');
    let touched = false;
    input.addEventListener('input', () => { touched = true; });
    const el = h('form', { class: 'scale', novalidate: true },
      h('div', { class: 'row' },
        h('div', { class: 'field narrow' }, h('label', { for: id }, 'Replicas'), input),
        h('div', { class: 'field' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true' }, '\u00a0'), submit)),
      help, msg);
    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = Number(input.value);
      if (input.value.trim() === '' || !Number.isInteger(n) || n < 0) {
        setText(msg, 'Enter a whole number of replicas (0 or more).');
        msg.className = 'small field-error';
        input.focus();
        return;
      }
      submit.disabled = true;
      try {
        const r = await api('POST', '/system/scale-function/' + encodeURIComponent(name), JSON.stringify({ serviceName: name, replicas: n }));
        // The controller answers {"name","replicas","previous"}: replicas after clamping into [min, max].
        const got = r.data && typeof r.data.replicas === 'number' ? r.data.replicas : n;
        const fn = getFn();
        const sc = (fn && fn.spec && fn.spec.scale) || {};
        let note = 'Scaled to ' + got + ' replica' + (got === 1 ? '' : 's') +
          (r.data && typeof r.data.previous === 'number' ? ' (was ' + r.data.previous + ').' : '.');
        if (got !== n) note += ' Asked for ' + n + '; the function allows ' + (sc.zero ? 0 : num(sc.min)) + '–' + num(sc.max) + '.';
        setText(msg, note);
        msg.className = 'small ok-text';
        touched = false;
      } catch (e) {
        setText(msg, 'Scale failed: ' + e.message);
        msg.className = 'small field-error';
      } finally {
        submit.disabled = false;
      }
    });
    return {
      el,
      update(fn) {
        const st = fn.status || {};
        const sc = (fn.spec && fn.spec.scale) || {};
        if (!touched && document.activeElement !== input && typeof st.replicas === 'number') input.value = String(st.replicas);
        if (typeof sc.max === 'number') input.max = String(sc.max);
        setText(help, 'Now ' + num(st.replicas) + ' desired' +
          (typeof sc.min === 'number' || typeof sc.max === 'number' ? '; allowed ' + (sc.zero ? 0 : num(sc.min)) + '–' + num(sc.max) : '') +
          (sc.metric === undefined || sc.metric === 'alerts' ? (sc.factor !== undefined && sc.factor !== 0 ? '. Alerts may change it.' : '.')
            : '. The autoscaler may change it (' + sc.metric + ', target ' + num(sc.target) + ' per replica).'));
      }
    };
  }

  // --------------------------------------------------------------- confirm

  function confirmDialog(title, text, okLabel) {
    const dlg = document.getElementById('confirm');
    setText(document.getElementById('confirm-title'), title);
    setText(document.getElementById('confirm-text'), text);
    setText(document.getElementById('confirm-ok'), okLabel);
    const back = document.activeElement;
    return new Promise((resolve) => {
      dlg.addEventListener('close', function onClose() {
        dlg.removeEventListener('close', onClose);
        if (back && back.isConnected && back.focus) back.focus();
        resolve(dlg.returnValue === 'ok');
      });
      dlg.returnValue = 'cancel';
      if (typeof dlg.showModal === 'function') {
        dlg.showModal();
        document.getElementById('confirm-cancel').focus();
      } else {
        resolve(window.confirm(title + '\n' + text)); // very old browsers
      }
    });
  }

  // ---------------------------------------------------------------- deploy

  let draft = null;
  try { draft = sessionStorage.getItem(DRAFT_KEY); } catch (e) { draft = null; }

  function saveDraft(text) {
    draft = text;
    try { sessionStorage.setItem(DRAFT_KEY, text); } catch (e) { /* private mode: keep it in memory */ }
  }

  function deployView(editName) {
    clear(main);
    let stopped = false;
    const taId = newId('yaml');
    const ta = h('textarea', {
      id: taId, class: 'yaml', spellcheck: 'false', wrap: 'off', autocapitalize: 'off', autocomplete: 'off',
      'aria-describedby': taId + '-help ' + taId + '-errors', 'data-editor': ''
    });
    const gutter = h('div', { class: 'gutter-inner' });
    const bands = h('div', { class: 'bands-inner' });
    const notes = h('div', { class: 'notes-inner' });
    const editor = h('div', { class: 'editor' },
      h('div', { class: 'gutter', 'aria-hidden': 'true' }, gutter),
      h('div', { class: 'code-area' },
        h('div', { class: 'bands', 'aria-hidden': 'true' }, bands),
        ta,
        h('div', { class: 'notes', 'aria-hidden': 'true' }, notes)));
    const target = h('p', { class: 'target', 'aria-live': 'polite' });
    const errBox = h('div', { id: taId + '-errors', class: 'errors', 'aria-live': 'polite', 'data-errors': '' });
    const out = h('div', { class: 'deploy-out', 'aria-live': 'polite' });
    const validateBtn = h('button', { type: 'button' }, 'Validate');
    const applyBtn = h('button', { type: 'submit', class: 'primary' }, 'Apply');
    const resetBtn = h('button', { type: 'button' }, 'Reset to template');
    const status = h('div', { class: 'applied' });
    const form = h('form', { class: 'deploy', novalidate: true },
      h('label', { for: taId, class: 'editor-label' }, 'Function YAML'),
      h('p', { class: 'muted small', id: taId + '-help' },
        'One or more Function documents separated by ---. Validate asks the controller for a dry run and shows what would change; Apply writes it. Ctrl+Enter applies.'),
      editor, target, errBox,
      h('div', { class: 'actions' }, applyBtn, validateBtn, resetBtn),
      out, status);

    append(main, [
      h('div', { class: 'pagehead' }, h('h1', null, editName ? 'Edit ' + editName : 'Deploy a function')),
      form
    ]);
    focusHeading();

    const LINE = 20; // px, matches app.css --code-line
    let errors = []; // [{line (1-based, editor), text}]
    let lineCount = 0;
    let watch = []; // names applied, shown with their live state

    function renderGutter() {
      const n = ta.value.split('\n').length;
      const errLines = new Set(errors.map((e) => e.line));
      if (n !== lineCount || gutter.dataset.err !== [...errLines].join(',')) {
        lineCount = n;
        gutter.dataset.err = [...errLines].join(',');
        clear(gutter);
        for (let i = 1; i <= n; i++) {
          gutter.appendChild(h('div', { class: errLines.has(i) ? 'ln err' : 'ln', 'data-line': i }, errLines.has(i) ? '! ' + i : String(i)));
        }
      }
    }

    function renderMarks() {
      clear(bands);
      clear(notes);
      const byLine = new Map();
      for (const e of errors) {
        if (!e.line) continue;
        if (!byLine.has(e.line)) byLine.set(e.line, []);
        byLine.get(e.line).push(e.text);
      }
      for (const [line, texts] of byLine) {
        const top = (line - 1) * LINE + 'px';
        // Positions through the CSSOM, which a strict style-src CSP allows.
        const band = h('div', { class: 'band' });
        band.style.top = top;
        bands.appendChild(band);
        const note = h('div', { class: 'note', title: texts.join('\n'), 'data-note-line': line }, '◀ ' + texts.join('; '));
        note.style.top = top;
        notes.appendChild(note);
      }
      editor.classList.toggle('has-notes', byLine.size > 0);
      renderGutter();
      syncScroll();
    }

    function syncScroll() {
      gutter.style.transform = 'translateY(' + -ta.scrollTop + 'px)';
      bands.style.transform = 'translateY(' + -ta.scrollTop + 'px)';
      notes.style.transform = 'translateY(' + -ta.scrollTop + 'px)';
    }

    function goToLine(line) {
      const lines = ta.value.split('\n');
      let start = 0;
      for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
      const end = start + (lines[line - 1] || '').length;
      ta.focus();
      ta.setSelectionRange(start, end);
      const top = (line - 1) * LINE;
      if (top < ta.scrollTop || top > ta.scrollTop + ta.clientHeight - 2 * LINE) ta.scrollTop = Math.max(0, top - 3 * LINE);
      syncScroll();
    }

    function showErrors(list, heading) {
      errors = list;
      clear(errBox);
      if (list.length) {
        errBox.appendChild(h('p', { class: 'errors-title', role: 'alert' }, heading || (list.length === 1 ? '1 problem' : list.length + ' problems')));
        errBox.appendChild(h('ul', null, list.map((e) => h('li', { 'data-error-line': e.line || '' },
          e.line ? h('button', { type: 'button', class: 'linkish', onclick: () => goToLine(e.line) }, 'Line ' + e.line + (e.column ? ':' + e.column : '')) : null,
          e.line ? ' ' : null,
          h('span', null, e.text)))));
      }
      renderMarks();
    }

    function updateTarget() {
      const docs = splitDocs(ta.value);
      const names = docs.map((d) => extractName(d).name).filter(Boolean);
      if (!docs.length) setText(target, 'Nothing to apply yet.');
      else if (names.length === docs.length) setText(target, (names.length === 1 ? 'Function: ' : 'Functions: ') + names.join(', '));
      else setText(target, 'No metadata.name found in ' + (docs.length - names.length) + ' of ' + docs.length + ' document(s).');
    }

    // Client-side checks, then the controller: returns [{doc, name}] or null
    // after showing the problems.
    function prepare() {
      const docs = splitDocs(ta.value);
      if (!docs.length) {
        showErrors([{ line: 0, text: 'The editor is empty: write a Function document.' }]);
        return null;
      }
      const problems = [];
      const seen = new Set();
      const plan = [];
      for (const d of docs) {
        const r = extractName(d);
        if (r.error) problems.push({ line: d.start + r.line, text: r.error });
        else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(r.name) || r.name.length > 63) {
          problems.push({ line: d.start + r.line, text: 'metadata.name: "' + r.name + '" is not a DNS-1123 label (lower-case letters, digits and "-", at most 63)' });
        } else if (seen.has(r.name)) problems.push({ line: d.start + r.line, text: 'function ' + r.name + ' appears twice' });
        else {
          seen.add(r.name);
          plan.push({ doc: d, name: r.name });
        }
      }
      if (problems.length) {
        showErrors(problems);
        return null;
      }
      return plan;
    }

    function put(p, dry) {
      return api('PUT', API + '/' + encodeURIComponent(p.name) + (dry ? '?dryRun=true' : ''), p.doc.text, 'application/yaml');
    }

    function controllerProblems(p, e) {
      const list = [];
      if (e.details && e.details.length) {
        for (const d of e.details) {
          const line = errorLine(d);
          list.push({
            line: line ? p.doc.start + line : 0,
            column: Number.isInteger(d.column) && d.column > 0 ? d.column : 0,
            text: (d.field ? d.field + ': ' : '') + (d.message || e.message)
          });
        }
      } else {
        const line = errorLine({ message: e.message });
        let text = e.message;
        if (e.status === 409) text = 'the name in the YAML differs from ' + p.name + ': ' + e.message;
        list.push({ line: line ? p.doc.start + line : 0, text: (planSize > 1 ? p.name + ': ' : '') + text });
      }
      return list;
    }
    let planSize = 1;

    // Dry-runs every document; shows problems or the diffs. → true when valid.
    async function dryRun(plan, showDiff) {
      planSize = plan.length;
      const problems = [];
      const diffs = [];
      for (const p of plan) {
        try {
          const r = await put(p, true);
          const res = (r.data && r.data.result) || r.headers.get('X-Faas-Result') || 'ok';
          diffs.push({ name: p.name, result: res, diff: (r.data && r.data.diff) || '' });
        } catch (e) {
          if (e.status === 0 || e.status === 401 || e.status >= 500) throw e;
          problems.push(...controllerProblems(p, e));
        }
      }
      if (problems.length) {
        showErrors(problems);
        return false;
      }
      showErrors([]);
      if (showDiff) {
        clear(out);
        append(out, [h('p', { class: 'banner ok', 'data-result': 'valid' }, 'Valid. ' + diffs.map((d) => d.name + ': would be ' + d.result).join(', ') + '.')]);
        for (const d of diffs) {
          if (d.diff) {
            out.appendChild(h('details', { open: true }, h('summary', null, 'Changes to ' + d.name),
              h('pre', { class: 'code diff', tabindex: '0' }, d.diff.split('\n').map((l) =>
                h('span', { class: l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : '' }, l + '\n')))));
          }
        }
      }
      return true;
    }

    function busy(on) {
      applyBtn.disabled = on;
      validateBtn.disabled = on;
      if (on) {
        showErrors([]); // problems from an earlier check are stale now
        clear(out);
        setText(target, 'Checking with the controller…');
      } else {
        updateTarget();
      }
    }

    async function doValidate() {
      const plan = prepare();
      if (!plan) return;
      busy(true);
      try {
        await dryRun(plan, true);
      } catch (e) {
        showErrors([{ line: 0, text: 'Cannot validate: ' + e.message }]);
      } finally {
        busy(false);
      }
    }

    async function doApply() {
      const plan = prepare();
      if (!plan) return;
      busy(true);
      try {
        // All documents are checked before any is written.
        if (!(await dryRun(plan, false))) return;
        const done = [];
        for (const p of plan) {
          try {
            const r = await put(p, false);
            done.push({ name: p.name, result: r.headers.get('X-Faas-Result') || (r.status === 201 ? 'created' : 'configured') });
          } catch (e) {
            if (e.status === 0 || e.status === 401 || e.status >= 500) throw e;
            showErrors(controllerProblems(p, e));
            break;
          }
        }
        if (done.length) {
          out.appendChild(h('p', { class: 'banner ok', 'data-result': 'applied' }, done.map((d) => d.name + ' ' + d.result).join(', ') + '.'));
          announce(done.map((d) => d.name + ' ' + d.result).join(', '));
          watch = done.map((d) => d.name);
          renderWatch([]);
          tick();
        }
      } catch (e) {
        showErrors([{ line: 0, text: 'Cannot apply: ' + e.message }]);
      } finally {
        busy(false);
      }
    }

    function renderWatch(fns) {
      clear(status);
      if (!watch.length) return;
      status.appendChild(h('h2', null, 'Applied'));
      status.appendChild(h('ul', { class: 'watch' }, watch.map((n) => {
        const fn = fns.find((f) => f && f.metadata && f.metadata.name === n);
        const st = (fn && fn.status) || {};
        return h('li', { 'data-watch': n },
          h('a', { href: fnHref(n) }, n), ' ',
          fn ? readyBadge(readyOf(fn)) : h('span', { class: 'badge unknown' }, 'Pending'),
          h('span', { class: 'muted' }, ' ' + num(st.availableReplicas) + ' / ' + num(st.replicas) + ' replicas'));
      })));
    }

    ta.addEventListener('input', () => {
      saveDraft(ta.value);
      renderGutter();
      updateTarget();
    });
    ta.addEventListener('scroll', syncScroll);
    ta.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        doApply();
      }
    });
    validateBtn.addEventListener('click', doValidate);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      doApply();
    });
    resetBtn.addEventListener('click', () => {
      ta.value = TEMPLATE;
      saveDraft(ta.value);
      showErrors([]);
      clear(out);
      updateTarget();
      ta.focus();
    });

    function load(text) {
      ta.value = text;
      showErrors([]);
      updateTarget();
    }

    if (editName) {
      load('# loading ' + editName + '…\n');
      ta.readOnly = true;
      api('GET', API + '/' + encodeURIComponent(editName)).then((r) => {
        if (stopped) return;
        ta.readOnly = false;
        load(functionYaml(r.data || {}));
      }).catch((e) => {
        if (stopped) return;
        ta.readOnly = false;
        load(draft || TEMPLATE);
        showErrors([{ line: 0, text: 'Cannot load ' + editName + ': ' + e.message }]);
      });
    } else {
      load(draft || TEMPLATE);
    }

    return {
      stop() { stopped = true; },
      async refresh() {
        if (!watch.length) return false;
        const r = await api('GET', API);
        if (!stopped) renderWatch((r.data && r.data.items) || []);
      }
    };
  }

  // ---------------------------------------------------------------- start

  // A bug in an event handler must not pass silently (the browser test
  // fails on console errors).
  window.addEventListener('unhandledrejection', (ev) => {
    console.error('faas-ui: unhandled error:', ev.reason);
  });

  // The skip link moves focus without touching the hash (the router's).
  document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => {
    navigated = true;
    route();
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
  setInterval(tick, POLL_MS);
  route();

  // For tests and the curious: the pure helpers, nothing that holds state.
  window.faasUI = { splitDocs, extractName, toYaml, functionYaml, readScalar, stripComment, errorLine };
})();
