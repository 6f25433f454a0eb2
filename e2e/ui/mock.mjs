// A stand-in gateway for working on the UI without Docker: serves ../../ui at
// /ui/ and fakes /apis/faas/v1/functions, /system/scale-function and
// /function/{name} (echo) in memory. Not used by the e2e test, which runs
// against the real platform. Usage: node e2e/ui/mock.mjs [port]  (user admin, password admin)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');
const port = Number(process.argv[2] || 0);
const AUTH = 'Basic ' + Buffer.from('admin:admin').toString('base64');
const now = () => new Date().toISOString();
const fns = new Map();

function mk(name, image, extra) {
  return {
    apiVersion: 'faas/v1', kind: 'Function',
    metadata: { name, labels: {}, annotations: {}, generation: 1, creationTimestamp: now() },
    spec: { image, fprocess: 'cat', mode: 'fork', env: {}, secrets: [], constraints: [], limits: { memory: '128Mi' }, requests: {},
      scale: { min: 1, max: 5, factor: 20, zero: false, cooldown: '30s' }, timeouts: { read: '10s', write: '10s', exec: '10s' }, readOnlyRootFilesystem: false },
    status: { observedGeneration: 1, replicas: 1, availableReplicas: 1, invocationCount: 0,
      conditions: [{ type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable', message: '1/1 replicas running', lastTransitionTime: now() },
        { type: 'Progressing', status: 'False', reason: 'Stable', message: '', lastTransitionTime: now() }],
      tasks: [{ id: 'x1y2z3abcdef0123', node: 'n0de1d0000000000', nodeName: 'node-1', state: 'running', desiredState: 'running', error: '', timestamp: now() }] },
    ...extra
  };
}
fns.set('echo', mk('echo', 'faas/echo:latest'));
fns.set('wordcount', mk('wordcount', 'faas/wordcount:latest'));
fns.set('xss-<img src=x onerror=alert(1)>', mk('xss-<img src=x onerror=alert(1)>', '<b>bold</b>'));

function send(res, code, obj, hdrs) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...hdrs });
  res.end(body);
}

function parse(yaml) {
  const lines = yaml.split('\n');
  const details = [];
  const out = { spec: {} };
  lines.forEach((l, i) => {
    let m;
    if (/\t/.test(l)) details.push({ line: i + 1, column: l.indexOf('\t') + 1, message: 'found a tab character' });
    if (/\{[^}]*$/.test(l)) details.push({ line: i + 1, column: l.indexOf('{') + 1, message: "did not find expected ',' or '}'" });
    if ((m = /^  name:\s*(\S+)/.exec(l))) out.name = m[1];
    if ((m = /^  image:\s*(\S+)/.exec(l))) out.spec.image = m[1];
    if ((m = /^  scale: \{min: (\d+), max: (\d+)\}/.exec(l))) out.spec.scale = { min: +m[1], max: +m[2] };
    if ((m = /^  (\w+):/.exec(l)) && !['name', 'labels', 'annotations', 'image', 'fprocess', 'mode', 'env', 'scale', 'timeouts', 'limits', 'requests', 'secrets', 'constraints', 'readOnlyRootFilesystem'].includes(m[1])) {
      details.push({ line: i + 1, column: 3, field: 'spec.' + m[1], message: 'unknown field' });
    }
  });
  if (!out.spec.image) details.push({ line: 1, column: 1, field: 'spec.image', message: 'required' });
  return { out, details };
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    let m;
    if (u.pathname === '/ui') { res.writeHead(301, { Location: '/ui/' }); return res.end(); }
    if ((m = /^\/function\/([^/]+)(\/.*)?$/.exec(u.pathname))) {
      const fn = fns.get(decodeURIComponent(m[1]));
      if (!fn) return send(res, 404, { error: 'no such function' });
      fn.status.invocationCount++;
      res.writeHead(200, { 'Content-Type': req.headers['content-type'] || 'text/plain', 'X-Duration-Seconds': '0.001' });
      return res.end(body);
    }
    // Basic auth as the gateway asks it, or the bearer token a gateway in front sends.
    if (req.headers.authorization !== AUTH && req.headers.authorization !== 'Bearer devtoken') {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="faas"' });
      return res.end('unauthorized');
    }
    if ((m = /^\/ui\/history\/([^/]+)$/.exec(u.pathname))) {
      // A made-up 15 minutes (the gateway keeps the real ones).
      const fn = fns.get(decodeURIComponent(m[1]));
      if (!fn) return send(res, 404, { error: 'function not found' });
      const end = Math.floor(Date.now() / 1000);
      const h = { function: fn.metadata.name, source: 'gateway', step_seconds: 10, t: [], invocations_per_second: [], error_ratio: [],
        p50_seconds: [], p99_seconds: [], replicas: [] };
      for (let i = 89; i >= 0; i--) {
        const rate = i > 70 ? 0 : 5 + 4 * Math.sin(i / 6);
        h.t.push(end - i * 10);
        h.invocations_per_second.push(Number(rate.toFixed(3)));
        h.error_ratio.push(rate ? (i % 17 === 0 ? 0.05 : 0) : null);
        h.p50_seconds.push(rate ? 0.004 + 0.002 * Math.cos(i / 5) : null);
        h.p99_seconds.push(rate ? 0.02 + 0.01 * Math.cos(i / 7) : null);
        h.replicas.push(rate > 7 ? 2 : 1);
      }
      return send(res, 200, h);
    }
    if (u.pathname.startsWith('/ui/')) {
      const f = u.pathname === '/ui/' ? 'index.html' : u.pathname.slice(4);
      const p = path.join(root, path.normalize(f));
      if (!p.startsWith(root) || !fs.existsSync(p)) { res.writeHead(404); return res.end(); }
      const type = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }[path.extname(p)] || 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type + '; charset=utf-8' });
      return res.end(fs.readFileSync(p));
    }
    if (u.pathname === '/system/functions' && req.method === 'GET') {
      return send(res, 200, [...fns.values()].map((f) => ({ name: f.metadata.name, image: f.spec.image, replicas: f.status.replicas,
        availableReplicas: f.status.availableReplicas, invocationCount: 0, envProcess: f.spec.fprocess, labels: {}, annotations: {} })));
    }
    if (u.pathname === '/apis/faas/v1/functions' && req.method === 'GET') {
      return send(res, 200, { apiVersion: 'faas/v1', kind: 'FunctionList', items: [...fns.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)) });
    }
    if ((m = /^\/apis\/faas\/v1\/functions\/([^/]+)$/.exec(u.pathname))) {
      const name = decodeURIComponent(m[1]);
      const fn = fns.get(name);
      if (req.method === 'GET') return fn ? send(res, 200, fn) : send(res, 404, { error: 'function ' + name + ' not found' });
      if (req.method === 'DELETE') { fns.delete(name); return fn ? send(res, 200, { result: 'deleted' }) : send(res, 404, { error: 'not found' }); }
      if (req.method === 'PUT') {
        const { out, details } = parse(body);
        if (details.length) return send(res, 400, { error: `${details[0].line}:${details[0].column}: ${details[0].field || ''}: ${details[0].message}`, details });
        if (out.name !== name) return send(res, 409, { error: 'name in body differs from path' });
        const result = !fn ? 'created' : fn.spec.image === out.spec.image.replace(/"/g, '') ? 'unchanged' : 'configured';
        if (u.searchParams.get('dryRun') === 'true') return send(res, fn ? 200 : 201, { result, diff: '--- live\n+++ applied\n@@\n-image: old\n+image: ' + out.spec.image + '\n' }, { 'X-Faas-Result': result });
        const nf = mk(name, out.spec.image);
        if (out.spec.scale) Object.assign(nf.spec.scale, out.spec.scale);
        nf.status.availableReplicas = 0;
        nf.status.conditions[0] = { type: 'Ready', status: 'False', reason: 'Starting', message: '0/1 replicas running', lastTransitionTime: now() };
        fns.set(name, nf);
        setTimeout(() => { nf.status.availableReplicas = 1; nf.status.conditions[0] = { type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable', message: '1/1', lastTransitionTime: now() }; }, 4000);
        return send(res, fn ? 200 : 201, nf, { 'X-Faas-Result': result });
      }
    }
    if ((m = /^\/system\/scale-function\/([^/]+)$/.exec(u.pathname)) && req.method === 'POST') {
      const fn = fns.get(decodeURIComponent(m[1]));
      if (!fn) return send(res, 404, { error: 'not found' });
      const previous = fn.status.replicas;
      const got = Math.min(fn.spec.scale.max, Math.max(fn.spec.scale.min, JSON.parse(body).replicas));
      fn.status.replicas = got;
      setTimeout(() => { fn.status.availableReplicas = got; }, 1500);
      return send(res, 200, { name: fn.metadata.name, replicas: got, previous });
    }
    send(res, 404, { error: 'no route' });
  });
});
server.listen(port, '127.0.0.1', () => console.error('msg=listening addr=127.0.0.1:' + server.address().port));
