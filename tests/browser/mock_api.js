#!/usr/bin/env node
// Dev-only mock of the netcoord agent's REST API, for developing and testing
// the web UI (web/) without a real cluster. Plain Node, no dependencies.
//
//   node tests/browser/mock_api.js [--port 8600] [--host 127.0.0.1]
//        [--members 1000] [--token SECRET] [--seed 1] [--static-dir web]
//        [--no-drift] [--spin] [--ring] [--proxy http://127.0.0.1:8555]
//
// Serves web/ under /ui/ (and / -> /ui/), the /v1 endpoints of the API
// contract with synthetic members spread over 5 datacenters, and mock-only
// controls:
//   POST /mock/kill?name=N     member N goes suspect, then failed ~1 s later
//   POST /mock/revive?name=N   member N is alive again
//   POST /mock/leave?name=N    member N has left
//   GET  /mock/state           {members, token, self}
// Coordinates drift a little every 2 s. With --spin the whole coordinate
// space is also rotated (in a random plane of the 8-D space, 10-40 degrees),
// sometimes mirrored along an axis, and shifted every 2 s: every distance, hence every RTT estimate, nearest
// and failover answer stays the same, but a projection that is not aligned
// between refreshes would spin and flip.
// --ring puts the 5 datacentres evenly on a circle: the two top principal
// components then have equal variance, so the PCA axes are arbitrary and
// change with every bit of noise - the hard case for a stable map.
// With --proxy URL it serves no fake data: /v1/* is forwarded to that real
// agent (headers and status kept), so the page can be tried against a real
// agent that does not serve /ui/ itself yet.
// With --port 0 it picks a free port. It prints one line
// "mock_api listening on http://HOST:PORT" once it is ready.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const o = { port: 8600, host: '127.0.0.1', members: 1000, token: '', seed: 1, drift: true,
    staticDir: path.resolve(__dirname, '..', '..', 'web') };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === '--port') { o.port = parseInt(v, 10); i++; }
    else if (a === '--host') { o.host = v; i++; }
    else if (a === '--members') { o.members = parseInt(v, 10); i++; }
    else if (a === '--token') { o.token = v; i++; }
    else if (a === '--seed') { o.seed = parseInt(v, 10); i++; }
    else if (a === '--static-dir') { o.staticDir = path.resolve(v); i++; }
    else if (a === '--no-drift') o.drift = false;
    else if (a === '--spin') o.spin = true;
    else if (a === '--ring') o.ring = true;
    else if (a === '--proxy') { o.proxy = v.replace(/\/+$/, ''); i++; }
    else if (a === '-h' || a === '--help') { console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 20).join('\n')); process.exit(0); }
    else { console.error('unknown argument ' + a); process.exit(2); }
  }
  return o;
}
const opt = parseArgs(process.argv);

// ---------------------------------------------------------------- data ----
let seed = opt.seed >>> 0 || 1;
function rand() { // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gauss() { let u = 0; while (!u) u = rand(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()); }

const DIM = 8;
// Datacenter centres in seconds, laid out so that inter-DC RTTs look real.
const DCS = [
  { dc: 'us-east', c: [0.000, 0.000] }, { dc: 'us-west', c: [0.032, 0.010] },
  { dc: 'eu-west', c: [-0.038, 0.012] }, { dc: 'ap-south', c: [-0.020, -0.085] },
  { dc: 'sa-east', c: [0.010, 0.060] },
];
if (opt.ring) DCS.forEach((d, k) => { d.c = [0.04 * Math.cos(2 * Math.PI * k / DCS.length), 0.04 * Math.sin(2 * Math.PI * k / DCS.length)]; });
for (const d of DCS) {
  const v = new Array(DIM).fill(0);
  v[0] = d.c[0]; v[1] = d.c[1];
  for (let i = 2; i < DIM; i++) v[i] = opt.ring ? 0 : gauss() * 0.004;
  d.vec = v;
}

const members = [];
const coords = new Map();
for (let i = 0; i < opt.members; i++) {
  const d = DCS[i % DCS.length];
  const idx = Math.floor(i / DCS.length) + 1;
  const rack = 'r' + ((idx % 8) + 1);
  const name = d.dc + '-' + String(idx).padStart(3, '0');
  const roll = rand();
  const status = i === 0 ? 'alive' : roll < 0.015 ? 'failed' : roll < 0.03 ? 'suspect' : roll < 0.04 ? 'left' : 'alive';
  members.push({
    Name: name, Addr: '127.' + (10 + (i % DCS.length)) + '.' + (Math.floor(idx / 250) % 250) + '.' + ((idx % 250) + 1),
    Port: 7946, Tags: { dc: d.dc, rack, role: i % 7 === 0 ? 'db' : 'web' }, Status: status,
    Incarnation: 1 + Math.floor(rand() * 4),
  });
  const vec = d.vec.map((x, k) => x + gauss() * (k < 2 ? 0.0045 : 0.0015));
  coords.set(name, { Vec: vec, Error: 0.05 + rand() * rand() * 0.9, Adjustment: (rand() - 0.5) * 0.0004, Height: 0.0002 + rand() * 0.002 });
}
const selfName = members.length ? members[0].Name : 'mock';
const byName = new Map(members.map((m) => [m.Name, m]));

// Members drift a little every 2 s, like a live Vivaldi system.
if (opt.drift) {
  setInterval(() => {
    for (const c of coords.values()) {
      for (let k = 0; k < DIM; k++) c.Vec[k] += gauss() * 0.00015;
      c.Error = Math.max(0.02, Math.min(1.5, c.Error * (0.97 + rand() * 0.06)));
    }
    if (opt.spin) {
      const i = Math.floor(rand() * DIM);
      let j = Math.floor(rand() * (DIM - 1)); if (j >= i) j++;
      const th = (rand() < 0.5 ? -1 : 1) * (10 + rand() * 30) * Math.PI / 180;
      const cs = Math.cos(th), sn = Math.sin(th);
      const shift = Array.from({ length: DIM }, () => gauss() * 0.005);
      const flip = rand() < 0.5 ? Math.floor(rand() * DIM) : -1;  // a reflection, also distance-preserving
      for (const c of coords.values()) {
        const a = c.Vec[i], b = c.Vec[j];
        c.Vec[i] = cs * a - sn * b; c.Vec[j] = sn * a + cs * b;
        if (flip >= 0) c.Vec[flip] = -c.Vec[flip];
        for (let k = 0; k < DIM; k++) c.Vec[k] += shift[k];
      }
    }
  }, 2000).unref();
}

function estMs(a, b) {
  let s = 0;
  for (let i = 0; i < DIM; i++) { const d = a.Vec[i] - b.Vec[i]; s += d * d; }
  let d = Math.sqrt(s) + a.Height + b.Height;
  const adj = d + a.Adjustment + b.Adjustment;
  if (adj > 0) d = adj;
  return Math.round(d * 1000 * 1000) / 1000;
}
const healthy = (m) => m.Status === 'alive';

// -------------------------------------------------------------- server ----
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.ico': 'image/x-icon' };

function send(res, code, obj, extra) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...(extra || {}) });
  res.end(body);
}
function tagFilter(q) {
  const t = q.get('tag');
  if (!t) return () => true;
  const i = t.indexOf(':');
  const k = i < 0 ? t : t.slice(0, i), v = i < 0 ? null : t.slice(i + 1);
  return (m) => (v === null ? k in m.Tags : m.Tags[k] === v);
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
function serveStatic(req, res, rel) {
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  const file = path.resolve(opt.staticDir, '.' + path.posix.normalize('/' + rel));
  if (!file.startsWith(opt.staticDir + path.sep)) return send(res, 404, { error: 'not found' });
  fs.readFile(file, (err, data) => {
    if (err) return send(res, 404, { error: 'not found' });
    // A strict CSP, so the tests catch any inline script or style the page
    // might grow; the agent may send the same.
    res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache',
      'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' });
    res.end(data);
  });
}

function handleApi(req, res, u) {
  const q = u.searchParams;
  const p = u.pathname;
  if (p === '/v1/health') return send(res, 200, { status: 'ok' });
  if (opt.token) {
    const h = req.headers.authorization || '';
    if (!h.startsWith('Bearer ')) return send(res, 401, { error: 'missing bearer token' }, { 'WWW-Authenticate': 'Bearer' });
    if (h.slice(7) !== opt.token) return send(res, 403, { error: 'invalid token' });
  }
  if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' });
  if (p === '/v1/agent/self') {
    const m = byName.get(selfName);
    return send(res, 200, { Name: m.Name, Addr: m.Addr, Port: m.Port, Tags: m.Tags, Status: m.Status, Version: '0.1.0-mock', Coord: coords.get(m.Name) });
  }
  if (p === '/v1/members') {
    const st = q.get('status'), tf = tagFilter(q);
    return send(res, 200, members.filter((m) => (!st || m.Status === st) && tf(m)));
  }
  if (p === '/v1/coordinate/nodes') {
    return send(res, 200, members.filter((m) => m.Status !== 'left').map((m) => ({ Node: m.Name, Segment: '', Coord: coords.get(m.Name) })));
  }
  const from = q.get('from');
  if (p === '/v1/rtt' || p === '/v1/nearest' || p === '/v1/failover') {
    if (!from) return send(res, 400, { error: 'missing from' });
    if (!byName.has(from)) return send(res, 404, { error: 'unknown node ' + from });
  }
  const fc = from && coords.get(from);
  if (p === '/v1/rtt') {
    const to = q.get('to');
    if (!to || !byName.has(to)) return send(res, 404, { error: 'unknown node ' + to });
    return send(res, 200, { From: from, To: to, EstimatedMs: estMs(fc, coords.get(to)) });
  }
  if (p === '/v1/nearest') {
    const n = Math.max(1, Math.min(1000, parseInt(q.get('n') || '5', 10) || 5));
    const st = q.get('status'), tf = tagFilter(q);
    const list = members.filter((m) => m.Name !== from && (st ? m.Status === st : healthy(m)) && tf(m))
      .map((m) => ({ Name: m.Name, Addr: m.Addr, Port: m.Port, Tags: m.Tags, Status: m.Status, EstimatedMs: estMs(fc, coords.get(m.Name)) }))
      .sort((a, b) => a.EstimatedMs - b.EstimatedMs || a.Name.localeCompare(b.Name))
      .slice(0, n);
    return send(res, 200, { From: from, Nodes: list });
  }
  if (p === '/v1/failover') {
    const key = q.get('group');
    if (!key) return send(res, 400, { error: 'missing group' });
    const skip = q.get('skip-local') === '1' || q.get('skip-local') === 'true';
    const local = byName.get(from).Tags[key];
    const groups = new Map();
    for (const m of members) {
      if (m.Name === from || !(key in m.Tags) || m.Status === 'left') continue;
      const v = m.Tags[key];
      if (skip && v === local) continue;
      if (!groups.has(v)) groups.set(v, []);
      groups.get(v).push({ Name: m.Name, Status: m.Status, EstimatedMs: estMs(fc, coords.get(m.Name)) });
    }
    const out = [...groups.entries()].map(([v, ms]) => {
      ms.sort((a, b) => a.EstimatedMs - b.EstimatedMs);
      const h = ms.filter((x) => x.Status === 'alive').map((x) => x.EstimatedMs);
      const med = h.length ? (h.length % 2 ? h[(h.length - 1) / 2] : (h[h.length / 2 - 1] + h[h.length / 2]) / 2) : null;
      return { Value: v, MedianMs: med, Members: ms };
    }).sort((a, b) => (a.MedianMs === null) - (b.MedianMs === null) || a.MedianMs - b.MedianMs || a.Value.localeCompare(b.Value));
    return send(res, 200, { From: from, Group: key, Groups: out });
  }
  return send(res, 404, { error: 'no such endpoint' });
}

function handleMock(req, res, u) {
  const name = u.searchParams.get('name');
  if (u.pathname === '/mock/state') return send(res, 200, { members: members.length, token: !!opt.token, self: selfName });
  const m = name && byName.get(name);
  if (!m) return send(res, 404, { error: 'unknown member ' + name });
  if (u.pathname === '/mock/kill') {
    m.Status = 'suspect'; m.Incarnation++;
    setTimeout(() => { if (m.Status === 'suspect') m.Status = 'failed'; }, 1000);
    return send(res, 200, { ok: true, name, status: m.Status });
  }
  if (u.pathname === '/mock/revive') { m.Status = 'alive'; m.Incarnation++; return send(res, 200, { ok: true, name }); }
  if (u.pathname === '/mock/leave') { m.Status = 'left'; m.Incarnation++; return send(res, 200, { ok: true, name }); }
  return send(res, 404, { error: 'no such mock endpoint' });
}

function proxy(req, res) {
  const target = new URL(req.url, opt.proxy);
  const up = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.setTimeout(5000, () => up.destroy(new Error('upstream timeout')));
  up.on('error', (e) => {
    // The agent is down: drop the connection, as the agent itself would.
    if (!res.headersSent) res.socket && res.socket.destroy();
  });
  req.pipe(up);
}

const server = http.createServer((req, res) => {
  let u;
  try { u = new URL(req.url, 'http://x'); } catch (e) { return send(res, 400, { error: 'bad url' }); }
  if (u.pathname === '/') { res.writeHead(302, { Location: '/ui/' }); return res.end(); }
  if (u.pathname === '/ui') { res.writeHead(301, { Location: '/ui/' }); return res.end(); }
  if (u.pathname.startsWith('/ui/')) return serveStatic(req, res, decodeURIComponent(u.pathname.slice(4)));
  if (u.pathname.startsWith('/v1/') && opt.proxy) return proxy(req, res);
  if (u.pathname.startsWith('/v1/')) return handleApi(req, res, u);
  if (u.pathname.startsWith('/mock/')) return handleMock(req, res, u);
  return send(res, 404, { error: 'not found' });
});
server.listen(opt.port, opt.host, () => {
  const a = server.address();
  console.log('mock_api listening on http://' + opt.host + ':' + a.port + ' (' +
    (opt.proxy ? 'proxying /v1 to ' + opt.proxy : members.length + ' members' + (opt.token ? ', token required' : '')) + ')');
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { server.close(); process.exit(0); });
