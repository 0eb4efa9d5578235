/*
 * netcoord — live coordinate map (plain JS + canvas, no libraries).
 *
 * PROJECTION. Each member has a height-vector Vivaldi coordinate: an 8-D
 * Euclidean vector (seconds) plus a non-negative "height" that models the
 * access link. The map shows the Vec part projected onto its first two
 * principal components (PCA of the members' Vec components):
 *   - PCA is the linear projection that keeps the most variance, i.e. it keeps
 *     the large distances (continents, datacenters) and gives up on the small
 *     ones, which is what a fleet map should show; it is orthogonal, so one
 *     millisecond is the same length everywhere on the map and the scale bar
 *     is honest (projected distance <= true Vec distance).
 *   - It is cheap: an 8x8 covariance and a Jacobi eigen-solve, O(n*64), about
 *     a millisecond for 1,000 members, so the page renders in well under a
 *     second and can redo it on every 2 s refresh. Classical MDS of the full
 *     estimated-RTT matrix would cost O(n^2) memory and time (1M entries for
 *     1,000 members) for little gain over PCA on data that is already
 *     Euclidean.
 *   - Height is not a direction in space (it adds the same to every distance
 *     from a node), so it is left out of the position and shown in the hover
 *     card. The halo around a point is the node's Vivaldi error estimate.
 * STABILITY. Eigenvectors have arbitrary sign and order, and the top two can
 * rotate into each other as coordinates move. On every refresh the new 2-D
 * layout is aligned to the previous one by orthogonal Procrustes (best
 * rotation or reflection + translation over the members present in both), so
 * points never flip; then every point is animated from where it is drawn to
 * its new place.
 *
 * Data comes only from the agent's REST API, with relative URLs (/v1/...).
 * Nearest and failover lists come from /v1/nearest and /v1/failover (from
 * the agent itself, verified: ?verify=K, measured shown beside estimated); the
 * browser only estimates RTT itself for hover labels and the table column.
 */
'use strict';
(function () {
  const POLL_MS = 2000;
  const ANIM_MS = 750;
  const TOKEN_KEY = 'netcoord.token';
  const STATUSES = ['alive', 'suspect', 'failed', 'left'];
  const STATUS_COLORS = { alive: '#1f9d55', suspect: '#d98e04', failed: '#d64545', left: '#8792a2' };
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f', '#17becf', '#bcbd22', '#aec7e8'];
  const NO_TAG_COLOR = '#b9c0cc';
  const OTHER_COLOR = '#6b7280';  // tag values beyond the palette

  const $ = (id) => document.getElementById(id);
  const el = {
    canvas: $('map'), wrap: $('map-wrap'), empty: $('map-empty'), tooltip: $('tooltip'),
    legend: $('legend'), banner: $('banner'), search: $('search'), searchMsg: $('search-msg'),
    names: $('member-names'), colorBy: $('color-by'), nearestN: $('nearest-n'),
    fit: $('fit'), zoomIn: $('zoom-in'), zoomOut: $('zoom-out'),
    selName: $('sel-name'), selInfo: $('sel-info'), nearestList: $('nearest-list'),
    nearestCount: $('nearest-count'), groupKey: $('group-key'), skipLocal: $('skip-local'),
    failoverList: $('failover-list'), filter: $('filter'), tbody: $('members-body'),
    table: $('members-table'), tableWrap: $('table-wrap'), membersCount: $('members-count'),
    tokenDialog: $('token-dialog'), tokenForm: $('token-form'), tokenInput: $('token-input'),
    tokenMsg: $('token-msg'),
    h: {
      alive: $('h-alive'), suspect: $('h-suspect'), failed: $('h-failed'), left: $('h-left'),
      agent: $('h-agent'), error: $('h-error'), updated: $('h-updated'),
    },
  };
  const ctx = el.canvas.getContext('2d');

  const state = {
    self: null,              // /v1/agent/self
    members: [],             // /v1/members
    byName: new Map(),       // name -> member
    coords: new Map(),       // name -> Coord
    points: new Map(),       // name -> {sx,sy,tx,ty,x,y,born}
    animStart: 0,
    selected: null,          // member name
    nearest: null,           // /v1/nearest response for state.selected
    failover: null,          // /v1/failover response
    colorBy: '',
    tagColors: new Map(),    // "key\u0000value" -> colour
    groupKey: null,          // null = not chosen yet (auto-pick 'dc' if present)
    sortKey: 'rtt', sortDir: 1, filter: '',
    view: { cx: 0, cy: 0, scale: 1 },  // world (ms) -> css px
    viewFrom: null, viewTo: null, viewAnimStart: 0,  // animated view changes
    pendingFocus: null,      // zoom to this node's nearest when they arrive
    userMoved: false,
    hover: null,
    lastUpdate: 0, lastErrorAt: 0, refreshes: 0,
    firstRenderMs: null, firstFrameMs: null, firstDataMs: null,
    tableSig: '',
  };

  // ------------------------------------------------------------------ API --
  let tokenWait = null;  // shared promise while the token form is open

  function authHeaders() {
    const t = sessionStorage.getItem(TOKEN_KEY);
    return t ? { Authorization: 'Bearer ' + t } : {};
  }

  function askToken(message, isError) {
    if (tokenWait) return tokenWait;
    tokenWait = new Promise((resolve) => {
      el.tokenMsg.textContent = message;
      el.tokenMsg.classList.toggle('error', !!isError);
      el.tokenInput.value = '';
      const done = (ev) => {
        ev.preventDefault();
        const v = el.tokenInput.value.trim();
        if (!v) return;
        sessionStorage.setItem(TOKEN_KEY, v);
        el.tokenForm.removeEventListener('submit', done);
        el.tokenDialog.close();
        tokenWait = null;
        resolve();
      };
      el.tokenForm.addEventListener('submit', done);
      if (!el.tokenDialog.open) el.tokenDialog.showModal();
      el.tokenInput.focus();
    });
    return tokenWait;
  }
  // Escape must not leave the app without a token form and no data.
  el.tokenDialog.addEventListener('cancel', (ev) => ev.preventDefault());

  class NetError extends Error {}

  async function api(path) {
    for (;;) {
      if (tokenWait) await tokenWait;
      let resp;
      try {
        resp = await fetch(path, { headers: { Accept: 'application/json', ...authHeaders() }, cache: 'no-store' });
      } catch (e) {
        throw new NetError('cannot reach the agent (' + (e && e.message ? e.message : 'network error') + ')');
      }
      if (resp.status === 401) {
        const had = !!sessionStorage.getItem(TOKEN_KEY);
        if (had) sessionStorage.removeItem(TOKEN_KEY);
        await askToken(had ? 'The agent did not accept the stored token. Enter the API token.'
          : 'This agent requires a bearer token to read its API.', had);
        continue;
      }
      if (resp.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        await askToken('That token was rejected (403 Forbidden). Enter the correct API token.', true);
        continue;
      }
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      if (!resp.ok) {
        const msg = body && body.error ? body.error : resp.status + ' ' + resp.statusText;
        const err = new Error(path.split('?')[0] + ': ' + msg);
        err.status = resp.status;
        throw err;
      }
      return body;
    }
  }

  // ------------------------------------------------------------- geometry --
  const ZERO_COORD = { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 };

  function estRttMs(a, b) {
    if (!a || !b) return null;
    const va = a.Vec || [], vb = b.Vec || [];
    const n = Math.max(va.length, vb.length);
    let s = 0;
    for (let i = 0; i < n; i++) { const d = (va[i] || 0) - (vb[i] || 0); s += d * d; }
    let d = Math.sqrt(s) + (a.Height || 0) + (b.Height || 0);
    const adj = d + (a.Adjustment || 0) + (b.Adjustment || 0);
    if (adj > 0) d = adj;
    return d * 1000;
  }

  // Jacobi eigen-decomposition of a small symmetric matrix.
  function symEigen(A) {
    const n = A.length;
    const a = A.map((r) => r.slice());
    const v = [];
    for (let i = 0; i < n; i++) { v.push(new Array(n).fill(0)); v[i][i] = 1; }
    for (let sweep = 0; sweep < 60; sweep++) {
      let off = 0;
      for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
      if (off < 1e-30) break;
      for (let p = 0; p < n; p++) {
        for (let q = p + 1; q < n; q++) {
          if (Math.abs(a[p][q]) < 1e-300) continue;
          const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
          const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          const c = 1 / Math.sqrt(t * t + 1), s = t * c;
          for (let k = 0; k < n; k++) {
            const akp = a[k][p], akq = a[k][q];
            a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
          }
          for (let k = 0; k < n; k++) {
            const apk = a[p][k], aqk = a[q][k];
            a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
          }
          for (let k = 0; k < n; k++) {
            const vkp = v[k][p], vkq = v[k][q];
            v[k][p] = c * vkp - s * vkq; v[k][q] = s * vkp + c * vkq;
          }
        }
      }
    }
    const order = [...Array(n).keys()].sort((i, j) => a[j][j] - a[i][i]);
    return { values: order.map((i) => a[i][i]), vectors: order.map((i) => v.map((row) => row[i])) };
  }

  // Project every member to 2-D (ms), aligned to the previous layout.
  function computeLayout(names) {
    const dim = names.reduce((m, nm) => Math.max(m, (coordOf(nm).Vec || []).length), 2);
    const X = names.map((nm) => { const v = coordOf(nm).Vec || []; const r = new Array(dim); for (let i = 0; i < dim; i++) r[i] = (v[i] || 0) * 1000; return r; });
    const n = X.length;
    const mean = new Array(dim).fill(0);
    for (const r of X) for (let i = 0; i < dim; i++) mean[i] += r[i] / n;
    const C = [];
    for (let i = 0; i < dim; i++) C.push(new Array(dim).fill(0));
    for (const r of X) {
      for (let i = 0; i < dim; i++) {
        const di = r[i] - mean[i];
        for (let j = i; j < dim; j++) C[i][j] += di * (r[j] - mean[j]);
      }
    }
    for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) C[i][j] = C[j][i];
    const { vectors } = symEigen(C);
    const b1 = vectors[0], b2 = vectors[1];
    const P = X.map((r) => {
      let x = 0, y = 0;
      for (let i = 0; i < dim; i++) { const d = r[i] - mean[i]; x += d * b1[i]; y += d * b2[i]; }
      return [x, y];
    });
    // Orthogonal Procrustes against the previous target layout.
    const common = [];
    names.forEach((nm, i) => { const o = state.points.get(nm); if (o) common.push([P[i], [o.tx, o.ty]]); });
    if (common.length >= 2) {
      let mnx = 0, mny = 0, mox = 0, moy = 0;
      for (const [p, o] of common) { mnx += p[0]; mny += p[1]; mox += o[0]; moy += o[1]; }
      const k = common.length; mnx /= k; mny /= k; mox /= k; moy /= k;
      let m00 = 0, m01 = 0, m10 = 0, m11 = 0;
      for (const [p, o] of common) {
        const px = p[0] - mnx, py = p[1] - mny, ox = o[0] - mox, oy = o[1] - moy;
        m00 += px * ox; m01 += px * oy; m10 += py * ox; m11 += py * oy;
      }
      // Maximise tr(R^T M) over rotations and reflections R (2x2).
      const rotA = Math.atan2(m10 - m01, m00 + m11), rotV = Math.hypot(m10 - m01, m00 + m11);
      const refA = Math.atan2(m01 + m10, m00 - m11), refV = Math.hypot(m01 + m10, m00 - m11);
      let R;
      if (rotV >= refV) { const c = Math.cos(rotA), s = Math.sin(rotA); R = [[c, -s], [s, c]]; }
      else { const c = Math.cos(refA), s = Math.sin(refA); R = [[c, s], [s, -c]]; }
      // new point (row) p -> p R; then translate centroids onto each other.
      const tx = mox - (mnx * R[0][0] + mny * R[1][0]);
      const ty = moy - (mnx * R[0][1] + mny * R[1][1]);
      for (const p of P) {
        const x = p[0] * R[0][0] + p[1] * R[1][0] + tx, y = p[0] * R[0][1] + p[1] * R[1][1] + ty;
        p[0] = x; p[1] = y;
      }
    } else if (common.length === 1) {
      const [p, o] = common[0];
      const dx = o[0] - p[0], dy = o[1] - p[1];
      for (const q of P) { q[0] += dx; q[1] += dy; }
    }
    return P;
  }

  function num(v, dflt) { return typeof v === 'number' && isFinite(v) ? v : dflt; }
  function cleanCoord(c) {
    return {
      Vec: Array.isArray(c.Vec) ? c.Vec.map((x) => num(x, 0)) : [],
      Error: num(c.Error, 1.5), Adjustment: num(c.Adjustment, 0), Height: num(c.Height, 0),
    };
  }
  function addrOf(m) { return (m.Addr || '?') + (m.Port ? ':' + m.Port : ''); }

  function coordOf(name) { return state.coords.get(name) || ZERO_COORD; }

  // ------------------------------------------------------------- refresh --
  let pollTimer = null;
  let selSeq = 0;

  async function refresh() {
    clearTimeout(pollTimer);
    if (document.hidden && state.lastUpdate) {  // background tab: poll slowly
      if (Date.now() - state.lastUpdate < 30000) { pollTimer = setTimeout(refresh, POLL_MS); return; }
    }
    try {
      // Members are required; the agent's own record and the coordinates
      // are optional, so an agent with a partial API still gets a map.
      const [selfR, membersR, coordsR] = await Promise.allSettled([
        api('/v1/agent/self'), api('/v1/members'), api('/v1/coordinate/nodes')]);
      if (membersR.status === 'rejected') throw membersR.reason;
      for (const r of [selfR, coordsR]) if (r.status === 'rejected' && r.reason instanceof NetError) throw r.reason;
      const warn = [];
      if (selfR.status === 'rejected') warn.push('agent info unavailable (' + selfR.reason.message + ')');
      if (coordsR.status === 'rejected') {
        warn.push('coordinates unavailable (' + coordsR.reason.message + '), ' +
          (state.coords.size ? 'showing the last known positions' : 'members drawn at the origin'));
      }
      const members = membersR.value, coords = coordsR.status === 'fulfilled' ? coordsR.value : [];
      const first = state.refreshes === 0;
      applyData(selfR.status === 'fulfilled' ? selfR.value : null, Array.isArray(members) ? members : [], Array.isArray(coords) ? coords : []);
      setBanner(warn.length ? 'Partial data: ' + warn.join('; ') + '.' : null, 'warn');
      if (first) await afterPaint();
      applyLists();
      // Selection-dependent data, fetched on every refresh so it follows
      // status changes; failures here do not blank the map.
      await refreshSelection(false);
    } catch (e) {
      state.lastErrorAt = Date.now();
      if (e instanceof NetError) {
        setBanner('Cannot reach the netcoord agent at ' + location.host + ' — retrying every ' + (POLL_MS / 1000) + ' s.' +
          (state.lastUpdate ? ' The map shows the last data received at ' + fmtTime(state.lastUpdate) + '.' : ''));
      } else {
        setBanner('The agent answered with an error: ' + e.message + ' — retrying.');
      }
      if (!state.lastUpdate) el.empty.textContent = 'No data: the agent is unreachable.';
    } finally {
      pollTimer = setTimeout(refresh, POLL_MS);
    }
  }

  function setBanner(msg, kind) {
    el.wrap.classList.toggle('stale', !!msg && kind !== 'warn');
    el.banner.classList.toggle('warn', kind === 'warn');
    if (!msg) { el.banner.hidden = true; el.banner.textContent = ''; return; }
    el.banner.textContent = msg;
    el.banner.hidden = false;
  }

  function applyData(self, members, coords) {
    state.self = self;
    members = members.filter((m) => m && typeof m.Name === 'string')
      .map((m) => ({ ...m, Status: STATUSES.includes(m.Status) ? m.Status : String(m.Status || 'unknown'), Tags: m.Tags || {} }));
    state.members = members;
    state.byName = new Map(members.map((m) => [m.Name, m]));
    const prevCoords = state.coords;
    state.coords = new Map();
    for (const c of coords) if (c && c.Node && c.Coord) state.coords.set(c.Node, cleanCoord(c.Coord));
    if (self && self.Name && self.Coord) state.coords.set(self.Name, cleanCoord(self.Coord));
    // A member whose coordinate the agent stopped reporting (e.g. it left)
    // keeps its last known place instead of jumping to the origin.
    state.staleCoords = new Set();
    for (const m of members) {
      if (!state.coords.has(m.Name) && prevCoords.has(m.Name)) {
        state.coords.set(m.Name, prevCoords.get(m.Name));
        state.staleCoords.add(m.Name);
      }
    }
    state.lastUpdate = Date.now();
    state.refreshes++;
    if (state.firstDataMs === null) state.firstDataMs = performance.now();

    if (!state.selected) {
      const fromHash = decodeURIComponent((location.hash.match(/node=([^&]+)/) || [])[1] || '');
      if (fromHash && state.byName.has(fromHash)) state.selected = fromHash;
      else if (self && state.byName.has(self.Name)) state.selected = self.Name;
    }

    const names = members.map((m) => m.Name);
    const P = names.length ? computeLayout(names) : [];
    const now = performance.now();
    const next = new Map();
    names.forEach((nm, i) => {
      const old = state.points.get(nm);
      const [tx, ty] = P[i];
      if (old) next.set(nm, { sx: old.x, sy: old.y, x: old.x, y: old.y, tx, ty, born: old.born });
      else next.set(nm, { sx: tx, sy: ty, x: tx, y: ty, tx, ty, born: state.points.size ? now : 0 });
    });
    state.points = next;
    state.animStart = now;
    if (!state.userMoved) fitView(true);

    el.empty.hidden = names.length > 0;
    if (!names.length) el.empty.textContent = 'The agent reports no members.';
    if (state.firstRenderMs === null && names.length) draw(performance.now());  // map first
    else requestDraw();
    updateHealth();
    updateLegend();
    renderSelectionInfo();
  }

  // The slower DOM work (1,000-row table, datalist) runs after the map has
  // been painted on the first load, so the map shows up first.
  function afterPaint() {
    return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  }
  function applyLists() {
    updateTagKeys();
    updateLegend();
    updateNames();
    renderTable();
  }

  async function refreshSelection(immediateRender) {
    const sel = state.selected;
    const seq = ++selSeq;
    if (!sel) { state.nearest = null; state.failover = null; renderNearest(); renderFailover(); return; }
    const n = Math.max(1, Math.min(50, parseInt(el.nearestN.value, 10) || 5));
    const key = state.groupKey;
    // From this agent itself, a verified answer (the K best pinged, issue 12).
    const isSelf = state.self && state.self.Name === sel;
    const verify = isSelf ? '&verify=' + Math.min(n, 8) : '';
    const reqs = [api('/v1/nearest?from=' + encodeURIComponent(sel) + '&n=' + n + verify).catch((e) => ({ __err: e }))];
    if (key) {
      reqs.push(api('/v1/failover?from=' + encodeURIComponent(sel) + '&group=' + encodeURIComponent(key) +
        (el.skipLocal.checked ? '&skip-local=1' : '')).catch((e) => ({ __err: e })));
    }
    if (immediateRender) { renderNearest(); }
    const [near, fo] = await Promise.all(reqs);
    if (seq !== selSeq || sel !== state.selected) return;  // superseded
    if (near && near.__err instanceof NetError) throw near.__err;
    state.nearest = near && !near.__err ? near : { __err: near && near.__err };
    state.failover = key ? (fo && !fo.__err ? fo : { __err: fo && fo.__err }) : null;
    if (state.pendingFocus === sel) { state.pendingFocus = null; focusSelection(); }
    renderNearest();
    renderFailover();
    renderTable();
    requestDraw();
  }

  function select(name, fromUser) {
    if (!name || name === state.selected) { if (name) centerOn(name); return; }
    state.selected = name;
    state.nearest = null;
    state.failover = null;
    history.replaceState(null, '', '#node=' + encodeURIComponent(name));
    state.pendingFocus = name;
    renderSelectionInfo();
    renderNearest();
    renderFailover();
    renderTable();
    scrollRowIntoView(name);
    requestDraw();
    refreshSelection(true).catch(() => {});
  }

  // ---------------------------------------------------------- health etc. --
  function fmtTime(t) { return new Date(t).toLocaleTimeString([], { hour12: false }); }
  function fmtMs(v) { return v === null || v === undefined || !isFinite(v) ? '–' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0); }

  function updateHealth() {
    const counts = { alive: 0, suspect: 0, failed: 0, left: 0 };
    for (const m of state.members) if (m.Status in counts) counts[m.Status]++;
    for (const s of STATUSES) {
      el.h[s].textContent = counts[s];
      el.h[s].parentElement.classList.toggle('nonzero', counts[s] > 0);
    }
    const self = state.self;
    el.h.agent.textContent = self && self.Name ? self.Name : '–';
    el.h.error.textContent = self && self.Coord && isFinite(self.Coord.Error) ? self.Coord.Error.toFixed(3) : '–';
    updateAge();
  }
  function updateAge() {
    if (!state.lastUpdate) return;
    const age = Math.round((Date.now() - state.lastUpdate) / 1000);
    el.h.updated.textContent = fmtTime(state.lastUpdate) + (age >= 2 ? ' (' + age + ' s ago)' : '');
    el.h.updated.classList.toggle('stale', age > (3 * POLL_MS) / 1000);
  }
  setInterval(updateAge, 1000);

  function tagKeys() {
    const keys = new Set();
    for (const m of state.members) for (const k of Object.keys(m.Tags || {})) keys.add(k);
    return [...keys].sort();
  }

  function updateTagKeys() {
    const keys = tagKeys();
    const sig = keys.join('\u0000');
    if (sig === updateTagKeys.sig) return;
    updateTagKeys.sig = sig;
    const fill = (sel, first, current) => {
      sel.textContent = '';
      const o = document.createElement('option'); o.value = ''; o.textContent = first; sel.appendChild(o);
      for (const k of keys) { const op = document.createElement('option'); op.value = k; op.textContent = k; sel.appendChild(op); }
      sel.value = keys.includes(current) ? current : '';
    };
    fill(el.colorBy, 'status', state.colorBy);
    state.colorBy = el.colorBy.value;
    if (state.groupKey === null) state.groupKey = keys.includes('dc') ? 'dc' : keys.includes('datacenter') ? 'datacenter' : (keys[0] || '');
    fill(el.groupKey, '(none)', state.groupKey);
    state.groupKey = el.groupKey.value;
  }

  function updateNames() {
    const sig = state.members.length + ':' + (state.members[0] && state.members[0].Name) + ':' + (state.members.length && state.members[state.members.length - 1].Name);
    if (sig === updateNames.sig) return;
    updateNames.sig = sig;
    const frag = document.createDocumentFragment();
    for (const m of [...state.members].sort((a, b) => a.Name.localeCompare(b.Name))) {
      const o = document.createElement('option'); o.value = m.Name; frag.appendChild(o);
    }
    el.names.textContent = '';
    el.names.appendChild(frag);
  }

  function tagColor(key, value) {
    if (value === undefined || value === null) return NO_TAG_COLOR;
    const k = key + '\u0000' + value;
    let c = state.tagColors.get(k);
    if (!c) {
      let used = 0;
      for (const kk of state.tagColors.keys()) if (kk.startsWith(key + '\u0000')) used++;
      c = used < PALETTE.length ? PALETTE[used] : OTHER_COLOR;
      state.tagColors.set(k, c);
    }
    return c;
  }
  function colorOf(m) {
    if (!state.colorBy) return STATUS_COLORS[m.Status] || STATUS_COLORS.left;
    return tagColor(state.colorBy, (m.Tags || {})[state.colorBy]);
  }

  // Built with DOM calls, no inline style attributes: works under a strict
  // Content-Security-Policy (style-src 'self').
  function updateLegend() {
    const lg = el.legend;
    lg.textContent = '';
    const div = (cls, text) => { const d = document.createElement('div'); d.className = cls; if (text !== undefined) d.textContent = text; lg.appendChild(d); return d; };
    const row = (color, label, count) => {
      const r = div('lg-row');
      const sw = document.createElement('span'); sw.className = 'lg-sw'; sw.style.background = color;
      const c = document.createElement('span'); c.className = 'lg-count'; c.textContent = count;
      r.append(sw, label, c);
    };
    if (!state.colorBy) {
      const counts = {};
      for (const m of state.members) counts[m.Status] = (counts[m.Status] || 0) + 1;
      div('lg-title', 'status');
      for (const st of STATUSES) row(STATUS_COLORS[st], st, counts[st] || 0);
    } else {
      const counts = new Map();
      for (const m of state.members) { const v = (m.Tags || {})[state.colorBy]; counts.set(v, (counts.get(v) || 0) + 1); }
      const vals = [...counts.keys()].sort((a, b) => String(a).localeCompare(String(b)));
      for (const v of vals) tagColor(state.colorBy, v);  // colours in sorted order: stable
      div('lg-title', state.colorBy);
      let other = 0, otherN = 0;
      for (const v of vals) {
        const c = tagColor(state.colorBy, v);
        if (c === OTHER_COLOR) { other += counts.get(v); otherN++; continue; }
        row(c, v === undefined ? '(no tag)' : v, counts.get(v));
      }
      if (otherN) row(OTHER_COLOR, 'other (' + otherN + ' values)', other);
      div('lg-note', '✕ failed · ring = suspect · faded = left');
    }
    div('lg-note', 'halo = error estimate · lines = nearest (API)');
    lg.hidden = !state.members.length;
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function tagsText(tags) {
    return Object.keys(tags || {}).sort().map((k) => k + '=' + tags[k]).join(', ');
  }

  // ------------------------------------------------------ selection panel --
  function renderSelectionInfo() {
    const sel = state.selected;
    el.selName.textContent = sel || 'none';
    if (!sel) { el.selInfo.textContent = 'Click a point, a table row, or search for a node.'; return; }
    const m = state.byName.get(sel);
    if (!m) { el.selInfo.textContent = 'This node is no longer a member.'; return; }
    const c = state.coords.get(sel);
    el.selInfo.innerHTML = '<span class="st st-' + esc(m.Status) + '">' + esc(m.Status) + '</span> · <b>' +
      esc(addrOf(m)) + '</b>' + (c ? ' · error <b>' + c.Error.toFixed(3) + '</b>' : ' · no coordinate yet') +
      (tagsText(m.Tags) ? ' · ' + esc(tagsText(m.Tags)) : '');
  }

  // Both lists are rebuilt only when their content changed, so keyboard
  // focus on one of their links survives the 2 s refresh.
  function unchanged(key, value) {
    const sig = JSON.stringify([state.selected, state.groupKey, value && value.__err ? String(value.__err.message) : value]);
    if (unchanged[key] === sig) return true;
    unchanged[key] = sig;
    return false;
  }

  function renderNearest() {
    const list = el.nearestList;
    if (unchanged('nearest', state.nearest)) return;
    list.textContent = '';
    const r = state.nearest;
    const note = (t) => { const li = document.createElement('li'); li.className = 'empty-note'; li.textContent = t; list.appendChild(li); };
    el.nearestCount.textContent = '';
    if (!state.selected) return note('no node selected');
    if (!r) return note('loading…');
    if (r.__err) return note('unavailable: ' + (r.__err.message || 'error'));
    const nodes = r.Nodes || [];
    el.nearestCount.textContent = '(' + nodes.length + ')';
    if (!nodes.length) return note('no healthy members');
    for (const nd of nodes) {
      const li = document.createElement('li');
      li.dataset.name = nd.Name;
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'linkbtn'; b.textContent = nd.Name;
      b.addEventListener('click', () => select(nd.Name, true));
      const ms = document.createElement('span'); ms.className = 'ms'; ms.textContent = fmtMs(nd.EstimatedMs) + ' ms';
      li.append(b, ' ', ms);
      // Verified answer: measured beside estimated (null = did not answer).
      if (r.Verify && 'MeasuredMs' in nd) {
        const m = document.createElement('span'); m.className = 'ms measured';
        m.textContent = nd.MeasuredMs === null ? '· no answer' : '· measured ' + fmtMs(nd.MeasuredMs) + ' ms';
        if (nd.MeasuredMs === null) m.classList.add('unhealthy');
        li.append(' ', m);
      }
      list.appendChild(li);
    }
  }

  function renderFailover() {
    const list = el.failoverList;
    if (unchanged('failover', state.failover)) return;
    list.textContent = '';
    const note = (t) => { const li = document.createElement('li'); li.className = 'empty-note'; li.textContent = t; list.appendChild(li); };
    if (!state.selected) return note('no node selected');
    if (!state.groupKey) return note('choose a tag key');
    const r = state.failover;
    if (!r) return note('loading…');
    if (r.__err) return note('unavailable: ' + (r.__err.message || 'error'));
    const groups = r.Groups || [];
    if (!groups.length) return note('no groups');
    for (const g of groups) {
      const li = document.createElement('li');
      li.dataset.value = g.Value;
      const name = document.createElement('b'); name.textContent = g.Value;
      const ms = document.createElement('span'); ms.className = 'ms';
      if (g.MedianMs === null || g.MedianMs === undefined) { ms.textContent = 'no healthy member'; ms.classList.add('unhealthy'); }
      else ms.textContent = 'median ' + fmtMs(g.MedianMs) + ' ms';
      const mem = document.createElement('span'); mem.className = 'fo-members';
      const ms0 = g.Members || [];
      mem.textContent = ms0.length + ' member' + (ms0.length === 1 ? '' : 's') + ': ' + ms0.slice(0, 4).map((x) => x.Name).join(', ') + (ms0.length > 4 ? ', …' : '');
      mem.title = ms0.map((x) => x.Name + ' (' + x.Status + ', ' + fmtMs(x.EstimatedMs) + ' ms)').join('\n');
      li.append(name, ' ', ms, mem);
      list.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- table --
  const STATUS_RANK = { alive: 0, suspect: 1, failed: 2, left: 3 };

  function renderTable(force) {
    const selC = state.selected ? state.coords.get(state.selected) : null;
    const q = state.filter.trim().toLowerCase();
    const nearestSet = new Set(((state.nearest && state.nearest.Nodes) || []).map((n) => n.Name));
    let rows = state.members.map((m) => {
      const c = state.coords.get(m.Name);
      return {
        m, c,
        rtt: m.Name === state.selected ? 0 : (selC && c ? estRttMs(selC, c) : null),
        err: c ? c.Error : null,
        tags: tagsText(m.Tags),
      };
    });
    if (q) {
      rows = rows.filter((r) => r.m.Name.toLowerCase().includes(q) || r.m.Status.includes(q) ||
        addrOf(r.m).includes(q) || r.tags.toLowerCase().includes(q));
    }
    const dir = state.sortDir;
    const cmpNull = (a, b) => (a === null ? (b === null ? 0 : 1) : b === null ? -1 : (a - b) * dir);
    const byName = (a, b) => a.m.Name.localeCompare(b.m.Name, undefined, { numeric: true });
    const sorters = {
      name: (a, b) => byName(a, b) * dir,
      status: (a, b) => ((STATUS_RANK[a.m.Status] ?? 9) - (STATUS_RANK[b.m.Status] ?? 9)) * dir || byName(a, b),
      rtt: (a, b) => cmpNull(a.rtt, b.rtt) || byName(a, b),
      error: (a, b) => cmpNull(a.err, b.err) || byName(a, b),
    };
    rows.sort(sorters[state.sortKey]);
    state.tableRows = rows;
    state.tableNearest = nearestSet;
    el.table.setAttribute('aria-rowcount', String(rows.length + 1));
    el.table.dataset.rows = String(rows.length);
    renderTableWindow(force);
    el.membersCount.textContent = q ? '(' + rows.length + ' of ' + state.members.length + ')' : '(' + state.members.length + ')';
    for (const th of el.table.querySelectorAll('thead th')) {
      const b = th.querySelector('button');
      if (!b) continue;
      th.setAttribute('aria-sort', b.dataset.sort === state.sortKey ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
  }

  // Only the rows in (and near) the visible part of the table are in the
  // DOM, between two spacer rows: laying out 1,000 table rows on every 2 s
  // refresh cost ~200 ms of main thread; a window of ~60 rows costs ~nothing.
  const ROW_H = 23;  // px; must match `tbody tr { height }` in style.css
  function renderTableWindow(force) {
    const rows = state.tableRows || [];
    const wrap = el.tableWrap;
    const viewH = wrap.clientHeight || 600;
    const first = Math.max(0, Math.floor(wrap.scrollTop / ROW_H) - 15);
    const last = Math.min(rows.length, first + Math.ceil(viewH / ROW_H) + 30);
    const html = ['<tr class="spacer" aria-hidden="true"><td colspan="5"></td></tr>'];
    const nearestSet = state.tableNearest || new Set();
    for (let i = first; i < last; i++) {
      const r = rows[i];
      const nm = esc(r.m.Name);
      const cls = (r.m.Name === state.selected ? 'selected' : '') + (nearestSet.has(r.m.Name) ? ' nearest' : '');
      html.push('<tr data-name="' + nm + '" aria-rowindex="' + (i + 2) + '"' + (cls.trim() ? ' class="' + cls.trim() + '"' : '') + ' title="' + esc(addrOf(r.m)) + '">' +
        '<td>' + nm + '</td><td><span class="st st-' + esc(r.m.Status) + '">' + esc(r.m.Status) + '</span></td>' +
        '<td class="num">' + (r.rtt === null ? '–' : fmtMs(r.rtt)) + '</td>' +
        '<td class="num">' + (r.err === null ? '–' : r.err.toFixed(3)) + '</td>' +
        '<td class="tags" title="' + esc(r.tags) + '">' + esc(r.tags) + '</td></tr>');
    }
    html.push('<tr class="spacer" aria-hidden="true"><td colspan="5"></td></tr>');
    const s = html.join('') + first + ':' + (rows.length - last);
    if (force || s !== state.tableSig) {
      el.tbody.innerHTML = html.join('');
      el.tbody.firstElementChild.style.height = first * ROW_H + 'px';
      el.tbody.lastElementChild.style.height = (rows.length - last) * ROW_H + 'px';
      state.tableSig = s;
    }
  }
  let scrollQueued = false;
  el.tableWrap.addEventListener('scroll', () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; renderTableWindow(); });
  }, { passive: true });

  function scrollRowIntoView(name) {
    const idx = (state.tableRows || []).findIndex((r) => r.m.Name === name);
    if (idx < 0) return;
    const wrap = el.tableWrap, head = el.table.tHead.offsetHeight;
    const top = head + idx * ROW_H, bottom = top + ROW_H;
    if (top - head < wrap.scrollTop || bottom > wrap.scrollTop + wrap.clientHeight) {
      wrap.scrollTop = Math.max(0, top - head - 2 * ROW_H);
      renderTableWindow();
    }
  }

  el.table.querySelector('thead').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-sort]');
    if (!b) return;
    const k = b.dataset.sort;
    if (state.sortKey === k) state.sortDir = -state.sortDir; else { state.sortKey = k; state.sortDir = 1; }
    renderTable();
    el.tableWrap.scrollTop = 0;
  });
  el.tbody.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-name]');
    if (tr) select(tr.dataset.name, false);
  });
  el.filter.addEventListener('input', () => { state.filter = el.filter.value; renderTable(); });

  // ------------------------------------------------------------ map view --
  // The canvas size is read once per frame (reading clientWidth per point
  // would force a layout each time); a ResizeObserver invalidates it.
  let sizeCache = null;
  function canvasSize() {
    if (!sizeCache) sizeCache = { w: el.canvas.clientWidth, h: el.canvas.clientHeight };
    return sizeCache;
  }

  function targetBounds() {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of state.points.values()) {
      if (p.tx < x0) x0 = p.tx; if (p.tx > x1) x1 = p.tx;
      if (p.ty < y0) y0 = p.ty; if (p.ty > y1) y1 = p.ty;
    }
    return { x0, y0, x1, y1 };
  }

  function fitView(animate) {
    if (!state.points.size) return;
    const { w, h } = canvasSize();
    const b = targetBounds();
    const dx = b.x1 - b.x0, dy = b.y1 - b.y0;
    const left = 40, right = w - 40, top = 34, bottom = h - 44;  // room for the hint and scale bar
    // All points at one spot (e.g. a new cluster, all at the origin): any
    // scale will do; otherwise fit the bounding box with a margin.
    let scale = dx < 1e-4 && dy < 1e-4 ? 1000 : Math.min((right - left) / Math.max(dx, 1e-4), (bottom - top) / Math.max(dy, 1e-4));
    if (!isFinite(scale) || scale <= 0) scale = 1;
    const icx = (left + right) / 2, icy = (top + bottom) / 2;
    const to = { cx: (b.x0 + b.x1) / 2 - (icx - w / 2) / scale, cy: (b.y0 + b.y1) / 2 + (icy - h / 2) / scale, scale };
    if (animate && state.firstRenderMs !== null) animateView(to);
    else { state.view = to; state.viewFrom = state.viewTo = null; }
    requestDraw();
  }

  function toScreen(x, y) {
    const { w, h } = canvasSize(), v = state.view;
    return [w / 2 + (x - v.cx) * v.scale, h / 2 - (y - v.cy) * v.scale];
  }
  function toWorld(sx, sy) {
    const { w, h } = canvasSize(), v = state.view;
    return [(sx - w / 2) / v.scale + v.cx, -(sy - h / 2) / v.scale + v.cy];
  }

  function zoomAt(factor, sx, sy) {
    state.viewTo = state.viewFrom = null;
    const [wx, wy] = toWorld(sx, sy);
    const v = state.view;
    v.scale = Math.max(1e-4, Math.min(1e6, v.scale * factor));
    const { w, h } = canvasSize();
    v.cx = wx - (sx - w / 2) / v.scale;
    v.cy = wy + (sy - h / 2) / v.scale;
    state.userMoved = true;
    requestDraw();
  }
  function panBy(dx, dy) {
    state.viewTo = state.viewFrom = null;
    state.view.cx -= dx / state.view.scale;
    state.view.cy += dy / state.view.scale;
    state.userMoved = true;
    requestDraw();
  }
  function centerOn(name) {
    const p = state.points.get(name);
    if (!p) return;
    const { w, h } = canvasSize();
    const [sx, sy] = toScreen(p.tx, p.ty);
    if (sx < 40 || sy < 40 || sx > w - 40 || sy > h - 40) {
      animateView({ cx: p.tx, cy: p.ty, scale: state.view.scale });
      state.userMoved = true;
    }
  }
  function animateView(to) {
    state.viewFrom = { ...state.view };
    state.viewTo = to;
    state.viewAnimStart = performance.now();
    requestDraw();
  }
  // After an explicit selection: centre on the node and zoom in (never out)
  // until the lines to its nearest members are long enough to read.
  function focusSelection() {
    const sel = state.selected && state.points.get(state.selected);
    const nodes = state.nearest && state.nearest.Nodes;
    if (!sel || !nodes || !nodes.length) return;
    let maxD = 0;
    for (const nd of nodes) {
      const p = state.points.get(nd.Name);
      if (p) maxD = Math.max(maxD, Math.hypot(p.tx - sel.tx, p.ty - sel.ty));
    }
    const { w, h } = canvasSize();
    let scale = state.view.scale;
    if (maxD > 0) scale = Math.max(scale, Math.min((0.28 * Math.min(w, h)) / maxD, scale * 10));
    animateView({ cx: sel.tx, cy: sel.ty, scale });
    state.userMoved = true;
  }

  // --------------------------------------------------------------- drawing --
  let drawQueued = false;
  function requestDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(draw);
  }

  function pointRadius(nPoints) {
    return nPoints > 2000 ? 2.5 : nPoints > 400 ? 3.5 : nPoints > 60 ? 5 : 7;
  }
  function haloRadius(r, err) {
    const e = Math.max(0, Math.min(isFinite(err) ? err : 1.5, 1.5));
    return r + 1 + e * r * 2.6;
  }
  const ease = (t) => (t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2);

  let lastDrawn = { points: [], lines: [] };

  function draw(now) {
    drawQueued = false;
    now = now || performance.now();
    const dpr = window.devicePixelRatio || 1;
    const { w, h } = canvasSize();
    if (el.canvas.width !== Math.round(w * dpr) || el.canvas.height !== Math.round(h * dpr)) {
      el.canvas.width = Math.round(w * dpr); el.canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const t = Math.min(1, (now - state.animStart) / ANIM_MS);
    const k = ease(t);
    let animating = t < 1;
    for (const p of state.points.values()) {
      p.x = p.sx + (p.tx - p.sx) * k;
      p.y = p.sy + (p.ty - p.sy) * k;
    }
    if (state.viewTo) {
      const a = state.viewFrom, b = state.viewTo;
      const tv = Math.min(1, (now - state.viewAnimStart) / ANIM_MS), kv = ease(tv);
      state.view = { cx: a.cx + (b.cx - a.cx) * kv, cy: a.cy + (b.cy - a.cy) * kv, scale: a.scale * Math.pow(b.scale / a.scale, kv) };
      if (tv >= 1) { state.view = { ...b }; state.viewTo = state.viewFrom = null; }
    }

    drawGrid(w, h);
    const n = state.points.size;
    const r = pointRadius(n);
    const items = [];
    for (const [name, p] of state.points) {
      const m = state.byName.get(name);
      if (!m) continue;
      const [sx, sy] = toScreen(p.x, p.y);
      const c = state.coords.get(name);
      let alpha = 1;
      if (p.born) { const ta = Math.min(1, (now - p.born) / ANIM_MS); alpha = ta; if (ta < 1) animating = true; }
      items.push({ name, m, sx, sy, err: c ? c.Error : 1.5, color: colorOf(m), alpha, hasCoord: !!c });
    }
    spreadCoincident(items, r);
    // Halos (error estimate) first, then points; unhealthy drawn last so they show.
    ctx.lineWidth = 1;
    for (const it of items) {
      if (it.sx < -60 || it.sy < -60 || it.sx > w + 60 || it.sy > h + 60) continue;
      ctx.globalAlpha = 0.13 * it.alpha * (it.m.Status === 'left' ? 0.5 : 1);
      ctx.fillStyle = it.color;
      ctx.beginPath(); ctx.arc(it.sx, it.sy, haloRadius(r, it.err), 0, 2 * Math.PI); ctx.fill();
    }
    ctx.globalAlpha = 1;

    const order = { alive: 0, left: 1, suspect: 2, failed: 3 };
    items.sort((a, b) => (order[a.m.Status] ?? 0) - (order[b.m.Status] ?? 0));
    for (const it of items) {
      if (it.sx < -20 || it.sy < -20 || it.sx > w + 20 || it.sy > h + 20) continue;
      drawPoint(it, r);
    }

    // Lines to the nearest members (from /v1/nearest).
    const lines = [];
    const drawnAt = new Map(items.map((it) => [it.name, it]));
    const screenOf = (name) => { const it = drawnAt.get(name); if (it) return [it.sx, it.sy]; const p = state.points.get(name); return toScreen(p.x, p.y); };
    const sel = state.selected && state.points.get(state.selected);
    if (sel && state.nearest && state.nearest.Nodes && (!state.nearest.From || state.nearest.From === state.selected)) {
      const [x0, y0] = screenOf(state.selected);
      ctx.strokeStyle = '#2f6fde'; ctx.lineWidth = 1.6; ctx.setLineDash([]);
      for (const nd of state.nearest.Nodes) {
        const p = state.points.get(nd.Name);
        if (!p) continue;
        const [x1, y1] = screenOf(nd.Name);
        ctx.globalAlpha = 0.85;
        ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
        ctx.globalAlpha = 1;
        ctx.beginPath(); ctx.arc(x1, y1, r + 3, 0, 2 * Math.PI); ctx.stroke();  // ring: a nearest member
        lines.push({ name: nd.Name, ms: nd.EstimatedMs, x0, y0, x1, y1 });
      }
      ctx.globalAlpha = 1;
    }

    // Selected node, nearest labels.
    if (sel) {
      const [sx, sy] = screenOf(state.selected);
      ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 2.5;
      ctx.beginPath(); ctx.arc(sx, sy, r + 5, 0, 2 * Math.PI); ctx.stroke();
      ctx.strokeStyle = '#fff'; ctx.lineWidth = 1.2;
      ctx.beginPath(); ctx.arc(sx, sy, r + 7.5, 0, 2 * Math.PI); ctx.stroke();
    }
    // Labels, by priority, skipping any that would overlap one already drawn.
    placed.length = 0;
    ctx.textBaseline = 'middle';
    const labelled = new Set();
    if (sel) { labelled.add(state.selected); nameLabel(state.selected, screenOf(state.selected), r, true); }
    ctx.font = '600 11.5px system-ui, "DejaVu Sans", sans-serif';
    for (const ln of lines) label(((ln.x0 + ln.x1) / 2), ((ln.y0 + ln.y1) / 2), fmtMs(ln.ms) + ' ms', '#fff', '#2f6fde');
    for (const ln of lines) { labelled.add(ln.name); nameLabel(ln.name, [ln.x1, ln.y1], r, false); }
    if (items.length <= 60) {
      for (const it of items) if (!labelled.has(it.name)) nameLabel(it.name, [it.sx, it.sy], r, false);
    }
    if (state.hover && state.points.get(state.hover)) {
      const [hx, hy] = screenOf(state.hover);
      ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.arc(hx, hy, r + 3, 0, 2 * Math.PI); ctx.stroke();
    }
    drawScaleBar(w, h);

    lastDrawn = { points: items, lines };
    el.canvas.dataset.points = String(items.length);
    el.canvas.setAttribute('aria-label', 'Map of ' + items.length + ' member coordinates' +
      (state.selected ? '; selected ' + state.selected : ''));
    if (items.length && state.firstRenderMs === null) {
      state.firstRenderMs = performance.now();
      // Conservative paint time: the start of the frame after the one that shows it.
      requestAnimationFrame(() => requestAnimationFrame((ts) => { state.firstFrameMs = ts; }));
    }
    if (animating || state.viewTo) requestDraw();
  }

  // Points drawn at the same pixel (e.g. a new cluster where every node is
  // still at the origin, or no coordinates at all) are fanned out on a small
  // circle around that spot so each one can be seen, hovered and clicked.
  function spreadCoincident(items, r) {
    const groups = new Map();
    for (const it of items) {
      const k = Math.round(it.sx) + ',' + Math.round(it.sy);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(it);
    }
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      g.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      const rad = Math.max(r * 2.6, (g.length * (2 * r + 3)) / (2 * Math.PI));
      g.forEach((it, i) => {
        const a = -Math.PI / 2 + (2 * Math.PI * i) / g.length;
        it.sx += rad * Math.cos(a); it.sy += rad * Math.sin(a);
        it.spread = true;
      });
    }
  }

  function drawPoint(it, r) {
    const { sx, sy, m } = it;
    ctx.globalAlpha = it.alpha * (m.Status === 'left' ? 0.45 : 1);
    const byTag = !!state.colorBy;
    if (m.Status === 'failed' && byTag) {
      ctx.fillStyle = it.color;
      ctx.beginPath(); ctx.arc(sx, sy, r, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = STATUS_COLORS.failed; ctx.lineWidth = 2.2;
      const d = r + 2;
      ctx.beginPath(); ctx.moveTo(sx - d, sy - d); ctx.lineTo(sx + d, sy + d); ctx.moveTo(sx + d, sy - d); ctx.lineTo(sx - d, sy + d); ctx.stroke();
    } else {
      const rr = m.Status === 'failed' || m.Status === 'suspect' ? r + 1 : r;
      ctx.fillStyle = it.color;
      ctx.beginPath(); ctx.arc(sx, sy, rr, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = 'rgba(255,255,255,.9)'; ctx.lineWidth = 1;
      ctx.stroke();
      if (m.Status === 'suspect' && byTag) {
        ctx.strokeStyle = STATUS_COLORS.suspect; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(sx, sy, r + 2.5, 0, 2 * Math.PI); ctx.stroke();
      }
      if ((m.Status === 'failed' || m.Status === 'suspect') && !byTag) {
        ctx.strokeStyle = m.Status === 'failed' ? '#8c1d1d' : '#7a5000'; ctx.lineWidth = 1.3;
        ctx.beginPath(); ctx.arc(sx, sy, r + 0.8, 0, 2 * Math.PI); ctx.stroke();
      }
    }
    if (!it.hasCoord) {  // no coordinate yet: dashed outline
      ctx.setLineDash([2, 2]); ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.arc(sx, sy, r + 2, 0, 2 * Math.PI); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.globalAlpha = 1;
  }

  const placed = [];
  function place(x, y, w, h, force) {
    for (const b of placed) if (x < b[0] + b[2] && b[0] < x + w && y < b[1] + b[3] && b[1] < y + h) { if (!force) return false; break; }
    placed.push([x, y, w, h]);
    return true;
  }
  function label(x, y, text, fg, bg) {
    const wd = ctx.measureText(text).width;
    if (!place(x - wd / 2 - 4, y - 8, wd + 8, 16, false)) return;
    ctx.fillStyle = bg; ctx.globalAlpha = 0.9;
    roundRect(x - wd / 2 - 4, y - 8, wd + 8, 16, 4); ctx.fill();
    ctx.globalAlpha = 1; ctx.fillStyle = fg; ctx.textAlign = 'center';
    ctx.fillText(text, x, y);
  }
  function nameLabel(name, at, r, bold) {
    if (!at) return;
    const [sx, sy] = at;
    ctx.font = (bold ? '700 12.5px' : '500 11.5px') + ' system-ui, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'left';
    const wd = ctx.measureText(name).width;
    const { w } = canvasSize();
    const lx = sx + r + 6 + wd > w - 4 ? sx - r - 6 - wd : sx + r + 6;
    if (!place(lx - 1, sy - r - 11, wd + 2, 14, bold)) return;
    ctx.lineWidth = 3; ctx.strokeStyle = 'rgba(255,255,255,.9)';
    ctx.strokeText(name, lx, sy - r - 4);
    ctx.fillStyle = '#1d2430';
    ctx.fillText(name, lx, sy - r - 4);
    ctx.font = '600 11.5px system-ui, "DejaVu Sans", sans-serif';
  }
  function roundRect(x, y, w, h, rad) {
    ctx.beginPath();
    ctx.moveTo(x + rad, y); ctx.lineTo(x + w - rad, y); ctx.quadraticCurveTo(x + w, y, x + w, y + rad);
    ctx.lineTo(x + w, y + h - rad); ctx.quadraticCurveTo(x + w, y + h, x + w - rad, y + h);
    ctx.lineTo(x + rad, y + h); ctx.quadraticCurveTo(x, y + h, x, y + h - rad);
    ctx.lineTo(x, y + rad); ctx.quadraticCurveTo(x, y, x + rad, y); ctx.closePath();
  }

  function niceStep(ms) {
    const p = Math.pow(10, Math.floor(Math.log10(ms)));
    const f = ms / p;
    return (f >= 5 ? 5 : f >= 2 ? 2 : 1) * p;
  }
  function drawGrid(w, h) {
    if (!state.points.size) return;
    const step = niceStep(90 / state.view.scale);
    const [wx0, wy1] = toWorld(0, 0), [wx1, wy0] = toWorld(w, h);
    ctx.strokeStyle = '#eef1f5'; ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = Math.ceil(wx0 / step) * step; x <= wx1; x += step) { const [sx] = toScreen(x, 0); ctx.moveTo(Math.round(sx) + 0.5, 0); ctx.lineTo(Math.round(sx) + 0.5, h); }
    for (let y = Math.ceil(wy0 / step) * step; y <= wy1; y += step) { const [, sy] = toScreen(0, y); ctx.moveTo(0, Math.round(sy) + 0.5); ctx.lineTo(w, Math.round(sy) + 0.5); }
    ctx.stroke();
  }
  function drawScaleBar(w, h) {
    if (!state.points.size) return;
    const ms = niceStep(110 / state.view.scale);
    const px = ms * state.view.scale;
    const x = 14, y = h - 18;
    ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5); ctx.stroke();
    ctx.fillStyle = '#1d2430'; ctx.textAlign = 'left'; ctx.textBaseline = 'bottom';
    ctx.font = '600 11.5px system-ui, "DejaVu Sans", sans-serif';
    ctx.fillText(fmtMs(ms) + ' ms (PCA of Vivaldi Vec)', x + 2, y - 6);
    ctx.textBaseline = 'middle';
  }

  // ------------------------------------------------------ map interaction --
  function pick(sx, sy) {
    let best = null, bd = Infinity;
    const rr = Math.max(8, pointRadius(state.points.size) + 4);
    for (const it of lastDrawn.points) {
      const d = (it.sx - sx) ** 2 + (it.sy - sy) ** 2;
      if (d < bd) { bd = d; best = it; }
    }
    return best && bd <= rr * rr ? best.name : null;
  }

  function showTooltip(name, sx, sy) {
    const m = state.byName.get(name);
    if (!m) { el.tooltip.hidden = true; return; }
    const c = state.coords.get(name);
    const selC = state.selected ? state.coords.get(state.selected) : null;
    const rows = [];
    rows.push('<div class="tt-name">' + esc(name) + '</div>');
    rows.push('<div><span class="tt-k">address</span> ' + esc(addrOf(m)) + '</div>');
    rows.push('<div><span class="tt-k">status</span> <span class="st st-' + esc(m.Status) + '">' + esc(m.Status) + '</span></div>');
    const tags = tagsText(m.Tags);
    if (tags) rows.push('<div><span class="tt-k">tags</span> ' + esc(tags) + '</div>');
    if (state.selected && state.selected !== name) {
      const rtt = selC && c ? estRttMs(selC, c) : null;
      rows.push('<div><span class="tt-k">est. RTT from ' + esc(state.selected) + '</span> <b>' + (rtt === null ? 'unknown' : fmtMs(rtt) + ' ms') + '</b></div>');
    }
    if (c) rows.push('<div><span class="tt-k">error</span> ' + c.Error.toFixed(3) + ' <span class="tt-k">height</span> ' + fmtMs(c.Height * 1000) + ' ms</div>');
    else rows.push('<div class="tt-k">no coordinate yet (drawn at the origin)</div>');
    if (state.staleCoords && state.staleCoords.has(name)) rows.push('<div class="tt-k">last known coordinate (no longer reported)</div>');
    el.tooltip.innerHTML = rows.join('');
    el.tooltip.hidden = false;
    const { w, h } = canvasSize();
    const tw = el.tooltip.offsetWidth, th = el.tooltip.offsetHeight;
    let x = sx + 14, y = sy + 14;
    if (x + tw > w - 4) x = sx - tw - 14;
    if (y + th > h - 4) y = sy - th - 14;
    el.tooltip.style.left = Math.max(4, x) + 'px';
    el.tooltip.style.top = Math.max(4, y) + 'px';
  }

  let drag = null;
  el.canvas.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    drag = { x: ev.offsetX, y: ev.offsetY, moved: false };
    el.canvas.setPointerCapture(ev.pointerId);
  });
  el.canvas.addEventListener('pointermove', (ev) => {
    if (drag) {
      const dx = ev.offsetX - drag.x, dy = ev.offsetY - drag.y;
      if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
        drag.moved = true;
        el.canvas.classList.add('dragging');
        panBy(dx, dy);
        drag.x = ev.offsetX; drag.y = ev.offsetY;
        el.tooltip.hidden = true;
        return;
      }
    }
    const name = pick(ev.offsetX, ev.offsetY);
    if (name !== state.hover) { state.hover = name; requestDraw(); }
    if (name) showTooltip(name, ev.offsetX, ev.offsetY); else el.tooltip.hidden = true;
    el.canvas.style.cursor = name ? 'pointer' : '';
  });
  el.canvas.addEventListener('pointerup', (ev) => {
    if (drag && !drag.moved) {
      const name = pick(ev.offsetX, ev.offsetY);
      if (name) select(name, false);
    }
    drag = null;
    el.canvas.classList.remove('dragging');
  });
  el.canvas.addEventListener('pointerleave', () => { state.hover = null; el.tooltip.hidden = true; requestDraw(); });
  el.canvas.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.offsetX, ev.offsetY);
  }, { passive: false });
  el.canvas.addEventListener('keydown', (ev) => {
    const { w, h } = canvasSize();
    const keys = {
      '+': () => zoomAt(1.25, w / 2, h / 2), '=': () => zoomAt(1.25, w / 2, h / 2),
      '-': () => zoomAt(0.8, w / 2, h / 2), '0': () => { state.userMoved = false; fitView(false); },
      ArrowLeft: () => panBy(40, 0), ArrowRight: () => panBy(-40, 0),
      ArrowUp: () => panBy(0, 40), ArrowDown: () => panBy(0, -40),
    };
    if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
  });
  el.zoomIn.addEventListener('click', () => { const { w, h } = canvasSize(); zoomAt(1.4, w / 2, h / 2); });
  el.zoomOut.addEventListener('click', () => { const { w, h } = canvasSize(); zoomAt(1 / 1.4, w / 2, h / 2); });
  el.fit.addEventListener('click', () => { state.userMoved = false; fitView(false); });
  $('focus-sel').addEventListener('click', () => focusSelection());
  new ResizeObserver(() => { sizeCache = null; if (!state.userMoved) fitView(false); requestDraw(); }).observe(el.wrap);

  // -------------------------------------------------------------- controls --
  function doSearch() {
    const q = el.search.value.trim();
    el.searchMsg.textContent = '';
    if (!q) return;
    let name = state.byName.has(q) ? q : null;
    if (!name) {
      const ql = q.toLowerCase();
      const hits = state.members.map((m) => m.Name).filter((n) => n.toLowerCase().includes(ql)).sort();
      name = hits.find((n) => n.toLowerCase().startsWith(ql)) || hits[0] || null;
    }
    if (!name) { el.searchMsg.textContent = 'no member matches “' + q + '”'; return; }
    select(name, true);
  }
  el.search.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); doSearch(); } });
  el.search.addEventListener('change', () => { if (state.byName.has(el.search.value.trim())) doSearch(); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
      ev.preventDefault(); el.search.focus(); el.search.select();
    }
  });
  el.colorBy.addEventListener('change', () => { state.colorBy = el.colorBy.value; updateLegend(); requestDraw(); });
  el.nearestN.addEventListener('change', () => { state.nearest = null; renderNearest(); refreshSelection(true).catch(() => {}); });
  el.groupKey.addEventListener('change', () => { state.groupKey = el.groupKey.value; state.failover = null; renderFailover(); refreshSelection(false).catch(() => {}); });
  el.skipLocal.addEventListener('change', () => { state.failover = null; renderFailover(); refreshSelection(false).catch(() => {}); });

  // Hooks for the browser tests (tests/browser/map.test.js): read-only views
  // of what was drawn in the last frame, in CSS pixels of the canvas.
  window.netcoordUI = {
    snapshot() {
      return {
        refreshes: state.refreshes,
        selected: state.selected,
        view: { ...state.view },
        points: lastDrawn.points.map((it) => {
          const p = state.points.get(it.name);
          return { name: it.name, status: it.m.Status, x: it.sx, y: it.sy, wx: p.tx, wy: p.ty, color: it.color };
        }),
        lines: lastDrawn.lines.map((l) => ({ name: l.name, ms: l.ms })),
        nearest: state.nearest && state.nearest.Nodes ? state.nearest.Nodes.map((n) => n.Name) : null,
      };
    },
    tableRows() {
      return (state.tableRows || []).map((r) => ({ name: r.m.Name, status: r.m.Status, rtt: r.rtt, err: r.err }));
    },
    metrics() { return { firstDataMs: state.firstDataMs, firstRenderMs: state.firstRenderMs, firstFrameMs: state.firstFrameMs }; },
    select(name) { select(name, true); },
  };

  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });

  renderNearest();
  renderFailover();
  refresh();
})();
