/**
 * The inspector's one page: HTML, CSS and JS inline, nothing fetched but the inspector's own
 * WebSocket. The script is plain ES2020 in a raw string (no backticks, no `${` inside), so the
 * package needs no bundler and the page works offline. It renders only with DOM APIs
 * (`textContent`, `createElementNS`), never `innerHTML`, so actor names and event payloads
 * from `/stately` clients cannot inject markup.
 */

const CSS = String.raw`
:root {
  --bg: #f4f6f8; --panel: #fff; --line: #d8dee4; --text: #1f2328; --muted: #59636e;
  --blue: #0969da; --blue-bg: #ddf4ff; --green: #1a7f37; --green-bg: #dafbe1;
  --amber: #9a6700; --amber-bg: #fff1c2; --red: #cf222e; --red-bg: #ffebe9; --grey-bg: #eaeef2;
  --active: #0b5cd5; --active-bg: #e3efff; --prev: #bf8700;
  font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; font-size: 13px; color: var(--text);
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); }
header { display: flex; align-items: center; gap: 18px; padding: 8px 14px; background: #24292f; color: #f0f3f6; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; letter-spacing: .2px; }
header .meta { color: #c9d1d9; font-variant-numeric: tabular-nums; }
#conn { display: inline-flex; align-items: center; gap: 6px; }
#conn::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: #8c959f; }
#conn.live::before { background: #3fb950; } #conn.down::before { background: #f85149; }
main { display: grid; gap: 10px; padding: 10px; grid-template-columns: 500px minmax(0, 1fr);
  grid-template-areas: "actors chart" "probes chart" "timeline timeline"; grid-template-rows: auto 1fr auto; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; min-width: 0; min-height: 0; display: flex; flex-direction: column; }
#actors { grid-area: actors; overflow: auto; max-height: 70vh; }
#endpoints, #sessions, #credentials, #others { table-layout: fixed; }
#endpoints th:nth-child(1) { width: 36%; } #endpoints th:nth-child(2) { width: 26%; } #endpoints th:nth-child(3) { width: 17%; }
#sessions th:nth-child(1) { width: 31%; } #sessions th:nth-child(2) { width: 22%; } #sessions th:nth-child(3) { width: 19%; } #sessions th:nth-child(4) { width: 17%; }
#credentials th:nth-child(1) { width: 46%; } #credentials th:nth-child(2) { width: 24%; } #credentials th:nth-child(3) { width: 12%; }
#others th:nth-child(1) { width: 50%; } #chart-panel { grid-area: chart; } #probes { grid-area: probes; overflow: auto; } #timeline-panel { grid-area: timeline; }
.head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; padding: 8px 12px; border-bottom: 1px solid var(--line); }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0; font-weight: 650; }
h2 .name { text-transform: none; letter-spacing: 0; color: var(--text); font-size: 13px; }
.group { padding: 8px 12px 4px; } .group h2 { margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 11.5px; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td { padding: 5px 6px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
tr.row { cursor: pointer; } tr.row:hover td { background: #f6f8fa; }
tr.row.selected td { background: var(--active-bg); } tr.row.selected td:first-child { box-shadow: inset 3px 0 0 var(--active); }
tr.dim td { color: var(--muted); }
.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; overflow-wrap: anywhere; }
.sub { color: var(--muted); font-size: 11.5px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 11.5px; font-weight: 600; white-space: nowrap; background: var(--grey-bg); color: var(--muted); }
.b-ok { background: var(--green-bg); color: var(--green); } .b-warn { background: var(--amber-bg); color: var(--amber); }
.b-bad { background: var(--red-bg); color: var(--red); } .b-info { background: var(--blue-bg); color: var(--blue); }
.countdown { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-weight: 600; }
.empty { color: var(--muted); padding: 6px 0 10px; font-style: italic; }
#chart-wrap { flex: 1; overflow: auto; position: relative; background: #fbfcfd; max-height: 86vh; min-height: 420px; }
#chart-wrap svg { display: block; margin: 0 auto; }
#travel { display: none; align-items: center; gap: 8px; background: var(--amber-bg); color: #6b4a00; border: 1px solid #e7c65a; border-radius: 6px; padding: 3px 8px; }
#travel.on { display: inline-flex; }
button { font: inherit; font-size: 12px; padding: 3px 9px; border: 1px solid var(--line); background: #f6f8fa; border-radius: 6px; cursor: pointer; }
button:hover { background: #eef1f4; } button.on { background: var(--active-bg); border-color: #9ec5fe; }
.spacer { flex: 1; }
#state-note { padding: 6px 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; min-height: 28px; }
#state-note b { color: var(--text); }
svg text { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
.node rect { fill: #fff; stroke: #8c959f; stroke-width: 1.2; }
.node.compound > rect, .node.parallel > rect { fill: rgba(246,248,250,.6); }
.node.root > rect { fill: none; stroke: #c4ccd4; }
.node.region > rect { fill: none; stroke-dasharray: 5 4; stroke: #a0a9b3; }
.node.final > rect.inner { fill: none; }
.node.pseudo > rect { fill: #f6f8fa; stroke-dasharray: 4 3; }
.node text { font-size: 12.5px; fill: #24292f; }
.node .title { font-size: 12px; font-weight: 600; fill: #424a53; }
.node.active > rect { stroke: var(--active); stroke-width: 2.2; }
.node.active.compound > rect, .node.active.parallel > rect, .node.active.region > rect { fill: rgba(227,239,255,.45); }
.node.active.leaf > rect { fill: var(--active); stroke: #0a4bb0; }
.node.active.leaf > text { fill: #fff; font-weight: 650; }
.node.active .title { fill: var(--active); }
.node.previous > rect { stroke: var(--prev); stroke-width: 2.4; stroke-dasharray: 6 3; }
.dot { fill: #24292f; }
.edge path { fill: none; stroke: #9aa4ae; stroke-width: 1.1; }
.edge .lbl { font-size: 11px; fill: #4d5761; }
.edge .lblbg { fill: #fbfcfd; opacity: .85; }
.edge.taken path { stroke: var(--active); stroke-width: 2.6; }
.edge.taken .lbl { fill: var(--active); font-weight: 650; }
.edge.init path { stroke: #24292f; }
#verdict { margin: 8px 12px; padding: 8px 10px; border-radius: 6px; background: var(--grey-bg); }
#verdict.bad { background: var(--red-bg); color: #82071e; } #verdict.warn { background: var(--amber-bg); color: #6b4a00; } #verdict.ok { background: var(--green-bg); color: #0f5323; }
#strip { display: flex; gap: 3px; flex-wrap: wrap; padding: 0 12px 6px; }
#strip span { width: 14px; height: 14px; border-radius: 3px; background: #d0d7de; }
#strip .r-failed { background: var(--red); } #strip .r-succeeded { background: var(--green); } #strip .r-granted { background: #8fb8f0; } #strip .r-released { background: #c4ccd4; }
#probes .tablewrap { padding: 0 12px 10px; }
.tl-scroll { flex: 1; overflow: auto; min-height: 240px; max-height: 60vh; }
#timeline td { font-size: 12.5px; }
#timeline tr.note td { color: #3d4650; background: #fafbfc; }
#timeline tr.unchanged td { color: var(--muted); }
#timeline tr.selected td { background: var(--amber-bg); }
#timeline .ev { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; font-weight: 600; }
#timeline .arrow { color: var(--muted); padding: 0 3px; }
#timeline .detail { color: var(--muted); font-size: 11px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
input[type=text], select { font: inherit; font-size: 12.5px; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px; }
input[type=text] { width: 230px; }
label.check { display: inline-flex; align-items: center; gap: 4px; color: var(--muted); font-size: 12px; }
details { padding: 0 12px 8px; } summary { cursor: pointer; color: var(--muted); font-size: 12px; }
pre { font-size: 11.5px; background: #f6f8fa; padding: 8px; border-radius: 6px; overflow: auto; max-height: 240px; margin: 6px 0 0; }
`;

const BODY = String.raw`
<header>
  <h1>resilient-stream inspector</h1>
  <span id="conn">connecting…</span>
  <span class="meta">clock <span id="now">–</span></span>
  <span class="meta" id="counts"></span>
</header>
<main>
  <section id="actors">
    <div class="group"><h2>Endpoints</h2><table id="endpoints"><thead><tr><th>endpoint</th><th>state</th><th title="time left before the endpoint may be probed again">probe in</th><th title="consecutive failures / probes granted">fails / probes</th></tr></thead><tbody></tbody></table></div>
    <div class="group"><h2>Sessions</h2><table id="sessions"><thead><tr><th>session</th><th>state</th><th>transport</th><th title="time left before the endpoint may be probed again">probe in</th><th title="turns finished since the inspector started">turns</th></tr></thead><tbody></tbody></table></div>
    <div class="group"><h2>Credentials</h2><table id="credentials"><thead><tr><th>credential</th><th>state</th><th title="token generation">gen.</th><th>refreshes</th></tr></thead><tbody></tbody></table></div>
    <div class="group" id="others-group" hidden><h2>Other xstate actors (/stately)</h2><table id="others"><thead><tr><th>actor</th><th>state</th><th>status</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section id="chart-panel">
    <div class="head">
      <h2>Chart <span class="name" id="chart-title">–</span></h2>
      <span id="travel"><span id="travel-text"></span><button id="live-btn" type="button">back to live</button></span>
      <span class="spacer"></span>
      <button id="fit-btn" type="button" class="on" title="fit the width of the panel; scroll for the rest">fit width</button><button id="whole-btn" type="button" title="the whole chart in the panel">whole</button><button id="full-btn" type="button" title="actual size">100%</button>
    </div>
    <div id="chart-wrap"><div class="empty" style="padding:12px">Select an actor.</div></div>
    <div id="state-note"></div>
    <details id="ctx"><summary>context of the selected actor (sanitized)</summary><pre id="ctx-pre"></pre></details>
  </section>
  <section id="probes">
    <div class="head"><h2>Probe history <span class="name" id="probe-title"></span></h2></div>
    <div id="verdict">No endpoint selected.</div>
    <div id="strip"></div>
    <div class="tablewrap"><table id="probe-table"><thead><tr><th>time</th><th>session</th><th>result</th><th>since previous</th><th>failure</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section id="timeline-panel">
    <div class="head">
      <h2>Timeline</h2>
      <select id="tl-actor"><option value="">all actors</option></select>
      <input id="tl-text" type="text" placeholder="filter: event, state, cause…" autocomplete="off">
      <label class="check"><input id="tl-all" type="checkbox"> also events that changed nothing</label>
      <span class="spacer"></span><span class="sub" id="tl-count"></span>
    </div>
    <div class="tl-scroll"><table id="timeline"><thead><tr><th>time</th><th>actor</th><th>event</th><th>from → to</th><th>cause</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var S = { charts: {}, actors: {}, timeline: [], now: 0, nowAt: 0, wall: false, selected: null, travel: null, zoom: 'fit', connected: false, startedAtMs: undefined };
  var token = new URLSearchParams(location.search).get('token') || '';
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'cls') node.className = attrs[k];
      else if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k]));
    return node;
  }
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = '0' + n; return n; }
  function nowMs() { return S.wall ? S.now + (performance.now() - S.nowAt) : S.now; }
  function fmtTime(ms) {
    if (ms === undefined || ms === null) return '–';
    if (ms > 1e11) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3); }
    var t = Math.max(0, ms); var m = Math.floor(t / 60000); var s = Math.floor(t / 1000) % 60;
    return 'T+' + pad(m) + ':' + pad(s) + '.' + pad(Math.floor(t % 1000), 3);
  }
  function fmtLeft(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000)); var h = Math.floor(s / 3600); var m = Math.floor(s / 60) % 60; var r = s % 60;
    return (h > 0 ? h + ':' + pad(m) : pad(m)) + ':' + pad(r);
  }
  function fmtGap(ms) {
    if (ms === undefined) return '';
    if (ms < 1000) return ms + ' ms';
    return fmtLeft(ms);
  }
  function countdown(until, prefix) {
    if (until === undefined || until === null) return el('span', { cls: 'sub', text: '–' });
    return el('span', { cls: 'countdown', 'data-until': String(until), 'data-prefix': prefix || '', text: (prefix || '') + fmtLeft(until - nowMs()) });
  }
  function tickCountdowns() {
    var now = nowMs();
    document.querySelectorAll('.countdown').forEach(function (node) {
      var left = Number(node.getAttribute('data-until')) - now;
      node.textContent = left <= 0 ? 'due now' : (node.getAttribute('data-prefix') || '') + fmtLeft(left);
    });
    $('now').textContent = S.now ? fmtTime(now) : '–';
  }
  function tone(text) {
    if (/^(healthy|socket\.open|open|valid|stable|settling)/.test(text)) return 'b-ok';
    if (/(cooling|fallback|retrying|refreshing|probeInFlight|connecting|claiming)/.test(text)) return 'b-warn';
    if (/(unsupported|reauth|error|failed)/.test(text)) return 'b-bad';
    if (/(released|stopped|done)/.test(text)) return '';
    return 'b-info';
  }
  function ident(text) {
    var node = el('div', { cls: 'id' });
    String(text).split(/(?<=[\/#])/).forEach(function (part, i) { if (i > 0) node.appendChild(document.createElement('wbr')); node.appendChild(document.createTextNode(part)); });
    return node;
  }
  function badge(text, cls) { return el('span', { cls: 'badge ' + (cls === undefined ? tone(text) : cls), text: text }); }

  // ---------------------------------------------------------------- actors
  function byKind(kind) {
    return Object.keys(S.actors).map(function (k) { return S.actors[k]; }).filter(function (a) { return a.kind === kind; })
      .sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
  }
  function row(actor, cells) {
    var tr = el('tr', { cls: 'row' + (S.selected === actor.key ? ' selected' : '') + (actor.status !== 'active' ? ' dim' : ''), 'data-actor': actor.key }, cells.map(function (c) { return el('td', null, [c]); }));
    tr.addEventListener('click', function () { select(actor.key, true); });
    return tr;
  }
  function fill(tbodyParent, rows, emptyText, cols) {
    var tbody = tbodyParent.querySelector('tbody'); tbody.textContent = '';
    if (rows.length === 0) tbody.appendChild(el('tr', null, [el('td', { cls: 'empty', colspan: String(cols), text: emptyText })]));
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  function turnsCell(t) {
    var parts = [];
    if (t.websocket) parts.push(t.websocket + ' ws');
    if (t.http) parts.push(t.http + ' http');
    if (t.failed) parts.push(t.failed + ' failed');
    return el('span', { cls: 'sub', text: parts.join(' · ') || '0' });
  }
  function renderActors() {
    var endpoints = byKind('endpoint'), sessions = byKind('session'), creds = byKind('credential'), others = byKind('xstate');
    fill($('endpoints'), endpoints.map(function (a) {
      var e = a.endpoint || {};
      var state = el('div', null, [badge(e.status || a.state, tone(e.status === 'cooling-down' ? 'cooling' : e.status || a.state)), el('div', { cls: 'sub', text: e.path || '' })]);
      var until = e.cooldownUntilMs;
      return row(a, [
        el('div', null, [ident(a.id), e.lastFailure ? el('div', { cls: 'sub', text: e.lastFailure }) : null]),
        state,
        until !== undefined ? countdown(until) : el('span', { cls: 'sub', text: e.status === 'probing' ? 'next turn' : '–' }),
        el('span', { cls: 'num', title: 'consecutive failures / probes granted' + ((e.suppressedFailures || 0) > 0 ? ' (+' + e.suppressedFailures + ' late failures counted)' : ''), text: String(e.consecutiveFailures || 0) + ' / ' + String(e.probesGranted || 0) }),
      ]);
    }), 'no endpoints', 4);
    fill($('sessions'), sessions.map(function (a) {
      var s = a.session || {};
      var ep = S.actors['endpoint:' + s.endpointKey];
      var retryAt = s.connection === 'fallback' ? (ep && ep.endpoint && ep.endpoint.cooldownUntilMs !== undefined ? ep.endpoint.cooldownUntilMs : s.httpUntilMs) : undefined;
      var waiting = retryAt !== undefined;
      return row(a, [
        el('div', null, [ident(a.id), el('div', { cls: 'sub' }, [ident(s.endpointKey || '')])]),
        el('div', null, [badge(s.connection || a.state), s.httpReason && s.connection === 'fallback' ? el('div', { cls: 'sub', text: s.httpReason }) : null, s.turn && s.turn !== 'idle' && s.turn !== 'released' ? el('div', { cls: 'sub', text: 'turn: ' + s.turn }) : null]),
        badge(s.connection === 'released' ? '–' : s.transport, s.transport === 'websocket' ? 'b-ok' : 'b-warn'),
        waiting ? countdown(retryAt) : el('span', { cls: 'sub', text: s.connection === 'fallback' ? 'next turn' : '–' }),
        turnsCell(s.turns || {}),
      ]);
    }), 'no live sessions', 5);
    fill($('credentials'), creds.map(function (a) {
      var c = a.credential || {};
      return row(a, [el('div', null, [ident(a.id), c.lastFailure ? el('div', { cls: 'sub', text: c.lastFailure }) : null]), badge(a.state), el('span', { text: c.generation === undefined ? '–' : String(c.generation) }), el('span', { text: c.refreshesStarted === undefined ? '–' : String(c.refreshesStarted) })]);
    }), 'no credentials', 4);
    $('others-group').hidden = others.length === 0;
    fill($('others'), others.map(function (a) { return row(a, [ident(a.id), badge(a.state || '–'), el('span', { cls: 'sub', text: a.status })]); }), 'none', 3);
    $('counts').textContent = endpoints.length + ' endpoint' + (endpoints.length === 1 ? '' : 's') + ' · ' + sessions.filter(function (s) { return s.status === 'active'; }).length + ' live session' + (sessions.length === 1 ? '' : 's');
    renderActorOptions();
  }
  function renderActorOptions() {
    var select = $('tl-actor'); var current = select.value;
    var keys = Object.keys(S.actors).sort();
    var existing = Array.prototype.map.call(select.options, function (o) { return o.value; }).slice(1);
    if (existing.join('|') !== keys.join('|')) {
      while (select.options.length > 1) select.remove(1);
      keys.forEach(function (k) { select.appendChild(el('option', { value: k, text: k })); });
      select.value = keys.indexOf(current) >= 0 ? current : '';
    }
  }

  // ---------------------------------------------------------------- chart
  function pathsOf(value, prefix) {
    if (value === undefined || value === null) return [];
    if (typeof value === 'string') return [prefix ? prefix + '.' + value : value];
    var out = [];
    Object.keys(value).forEach(function (k) { out = out.concat(pathsOf(value[k], prefix ? prefix + '.' + k : k)); });
    return out;
  }
  function withAncestors(paths) {
    var set = { '': true };
    paths.forEach(function (p) { var parts = p.split('.'); for (var i = 1; i <= parts.length; i++) set[parts.slice(0, i).join('.')] = true; });
    return set;
  }
  function currentEntry(actor) {
    if (S.travel !== null) return S.timeline.find(function (e) { return e.seq === S.travel; }) || null;
    for (var i = S.timeline.length - 1; i >= 0; i--) { var e = S.timeline[i]; if (e.actor === actor.key && e.changed) return e; }
    return null;
  }
  function edgeTaken(edge, entry) {
    if (!entry || !entry.changed || edge.initial) return false;
    var from = withAncestors(entry.from), to = withAncestors(entry.to);
    if (!from[edge.source === '*' ? '' : edge.source] || !to[edge.target]) return false;
    var lines = edge.label ? edge.label.lines : [];
    return lines.some(function (l) { return l === entry.event || l.indexOf(entry.event + ' ') === 0; });
  }
  function renderChart() {
    var wrap = $('chart-wrap'); wrap.textContent = '';
    var actor = S.selected ? S.actors[S.selected] : null;
    if (!actor) { $('chart-title').textContent = '–'; wrap.appendChild(el('div', { cls: 'empty', style: 'padding:12px', text: 'Select an actor on the left or an event in the timeline.' })); renderNote(null, null); return; }
    var chart = S.charts[actor.chart];
    $('chart-title').textContent = actor.kind + ' · ' + actor.id;
    if (!chart) { wrap.appendChild(el('div', { cls: 'empty', style: 'padding:12px', text: 'No definition for this actor' + (actor.kind === 'xstate' ? ' (its machine config was not sent).' : '.') })); renderNote(actor, null); return; }
    var entry = currentEntry(actor);
    var travelling = S.travel !== null && entry;
    var value = travelling ? entry.value : actor.value;
    var activePaths = pathsOf(value);
    var active = withAncestors(activePaths);
    var previous = travelling && entry.changed ? withAncestors(entry.from) : {};
    var leaves = {}; activePaths.forEach(function (p) { leaves[p] = true; });
    var margin = 8;
    var root = svg('svg', { id: 'chart', viewBox: (-margin) + ' ' + (-margin) + ' ' + (chart.width + 2 * margin) + ' ' + (chart.height + 2 * margin), 'data-chart': chart.name, role: 'img', 'aria-label': 'chart ' + chart.title });
    if (S.zoom === 'fit') { root.setAttribute('width', '100%'); root.setAttribute('preserveAspectRatio', 'xMidYMin meet'); root.style.maxWidth = Math.round(chart.width + 2 * margin) + 'px'; }
    else if (S.zoom === 'whole') { root.setAttribute('width', '100%'); root.setAttribute('height', String(Math.max(300, wrap.clientHeight - 4))); root.setAttribute('preserveAspectRatio', 'xMidYMid meet'); }
    else { root.setAttribute('width', String(chart.width + 2 * margin)); root.setAttribute('height', String(chart.height + 2 * margin)); }
    var defs = svg('defs', {});
    [['arrow', '#9aa4ae'], ['arrow-taken', '#0b5cd5'], ['arrow-init', '#24292f']].forEach(function (m) {
      var marker = svg('marker', { id: m[0], viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
      marker.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: m[1] })); defs.appendChild(marker);
    });
    root.appendChild(defs);
    var nodes = chart.nodes.slice().sort(function (a, b) { return a.depth - b.depth; });
    var containers = svg('g', { 'class': 'containers' }), leafLayer = svg('g', {}), edgeLayer = svg('g', {});
    nodes.forEach(function (n) {
      if (n.type === 'initial') { leafLayer.appendChild(svg('circle', { 'class': 'dot', cx: n.x + n.w / 2, cy: n.y + n.h / 2, r: n.w / 2 - 1 })); return; }
      var cls = ['node', n.type, n.leaf ? 'leaf' : 'container'];
      if (n.path === '') cls.push('root');
      if (n.region) cls.push('region');
      var isActive = n.type !== 'pseudo' && active[n.path] && actor.status !== 'error';
      if (isActive) cls.push('active');
      if (previous[n.path] && !active[n.path]) cls.push('previous');
      if (n.leaf && previous[n.path] && leaves[n.path] === undefined) cls.push('previous');
      var g = svg('g', { 'class': cls.join(' '), 'data-state': n.path === '' ? chart.title : n.key, 'data-path': n.path });
      var title = svg('title', {}); title.textContent = (n.path || chart.title) + (n.description ? ' — ' + n.description : ''); g.appendChild(title);
      g.appendChild(svg('rect', { x: n.x, y: n.y, width: n.w, height: n.h, rx: n.leaf ? 8 : 10 }));
      if (n.type === 'final') g.appendChild(svg('rect', { 'class': 'inner', x: n.x + 3, y: n.y + 3, width: n.w - 6, height: n.h - 6, rx: 6 }));
      var t;
      if (n.leaf) { t = svg('text', { x: n.x + n.w / 2, y: n.y + n.h / 2 + 4.5, 'text-anchor': 'middle' }); }
      else { t = svg('text', { 'class': 'title', x: n.x + 10, y: n.y + 19 }); }
      t.textContent = n.key + (n.type === 'parallel' ? '  (parallel)' : '');
      g.appendChild(t);
      (n.leaf ? leafLayer : containers).appendChild(g);
    });
    chart.edges.forEach(function (e) {
      var taken = edgeTaken(e, entry);
      var g = svg('g', { 'class': 'edge' + (taken ? ' taken' : '') + (e.initial ? ' init' : ''), 'data-source': e.source, 'data-target': e.target });
      var d = e.points.map(function (p, i) { return (i === 0 ? 'M' : 'L') + p[0] + ',' + p[1]; }).join(' ');
      g.appendChild(svg('path', { d: d, 'marker-end': 'url(#' + (e.initial ? 'arrow-init' : taken ? 'arrow-taken' : 'arrow') + ')' }));
      if (e.label) {
        g.appendChild(svg('rect', { 'class': 'lblbg', x: e.label.x, y: e.label.y, width: e.label.w, height: e.label.h, rx: 3 }));
        e.label.lines.forEach(function (line, i) { var t = svg('text', { 'class': 'lbl', x: e.label.x + 4, y: e.label.y + 12 + i * 13 }); t.textContent = line; g.appendChild(t); });
      }
      edgeLayer.appendChild(g);
    });
    root.appendChild(containers); root.appendChild(edgeLayer); root.appendChild(leafLayer);
    var keepScroll = wrap.getAttribute('data-shown') === actor.key + '|' + S.zoom;
    var scrollTop = wrap.scrollTop;
    wrap.appendChild(root);
    wrap.setAttribute('data-shown', actor.key + '|' + S.zoom);
    if (keepScroll) wrap.scrollTop = scrollTop;
    else if (S.zoom !== 'whole') scrollToActive(wrap, root);
    renderNote(actor, chart, activePaths, travelling ? entry : null);
  }
  function scrollToActive(wrap, root) {
    var leaf = root.querySelector('g.node.leaf.active');
    if (!leaf) { wrap.scrollTop = 0; return; }
    var box = leaf.getBoundingClientRect(), frame = wrap.getBoundingClientRect();
    if (box.top >= frame.top && box.bottom <= frame.bottom) return;
    wrap.scrollTop += box.top - frame.top - frame.height / 3;
  }
  function renderNote(actor, chart, activePaths, entry) {
    var note = $('state-note'); note.textContent = '';
    var travel = $('travel');
    if (entry) {
      travel.className = 'on';
      $('travel-text').textContent = 'Viewing ' + fmtTime(entry.atMs) + ', after ' + entry.event + (entry.cause ? ' (' + entry.cause + ')' : '');
    } else travel.className = '';
    $('ctx-pre').textContent = actor && actor.context ? JSON.stringify(actor.context, null, 2) : '';
    if (!actor || !chart) return;
    var byPath = {}; chart.nodes.forEach(function (n) { byPath[n.path] = n; });
    (activePaths || []).forEach(function (p, i) {
      var n = byPath[p];
      if (i > 0) note.appendChild(document.createTextNode('  ·  '));
      note.appendChild(el('b', { text: p }));
      if (n && n.description) note.appendChild(document.createTextNode(' — ' + n.description));
    });
  }

  // ---------------------------------------------------------------- probes
  function probeEndpoint() {
    var actor = S.selected ? S.actors[S.selected] : null;
    if (actor && actor.kind === 'endpoint') return actor;
    if (actor && actor.kind === 'session' && actor.session && actor.session.endpointKey) return S.actors['endpoint:' + actor.session.endpointKey] || null;
    var endpoints = byKind('endpoint');
    return endpoints.find(function (e) { return e.endpoint && e.endpoint.status !== 'healthy'; }) || endpoints[0] || null;
  }
  function renderProbes() {
    var endpoint = probeEndpoint();
    var verdict = $('verdict'), strip = $('strip'), tbody = $('probe-table').querySelector('tbody');
    strip.textContent = ''; tbody.textContent = '';
    if (!endpoint) { $('probe-title').textContent = ''; verdict.className = ''; verdict.textContent = 'No endpoint.'; return; }
    $('probe-title').textContent = endpoint.id;
    var e = endpoint.endpoint || { history: [] };
    var history = e.history || [];
    var attempts = history.filter(function (h) { return h.result === 'granted'; });
    var failed = history.filter(function (h) { return h.result === 'failed'; });
    var lastFailures = [];
    for (var i = history.length - 1; i >= 0 && lastFailures.length < 4; i--) { if (history[i].result === 'succeeded') break; if (history[i].result === 'failed') lastFailures.unshift(history[i]); }
    var gaps = []; for (var j = 1; j < lastFailures.length; j++) gaps.push(lastFailures[j].atMs - lastFailures[j - 1].atMs);
    var text, cls;
    if (history.length === 0) { text = 'No probe yet: no session has tried a WebSocket on this endpoint since the gateway started.'; cls = ''; }
    else if (lastFailures.length === 0) { text = 'Last probe succeeded: the WebSocket works. ' + attempts.length + ' probe' + (attempts.length === 1 ? '' : 's') + ' in the history.'; cls = 'ok'; }
    else {
      var loop = lastFailures.length >= 3 && gaps.every(function (g) { return g < 60000; });
      var growing = gaps.length > 0 && gaps.every(function (g, k) { return k === 0 || g >= gaps[k - 1] * 0.9; });
      text = (loop ? 'PROBE LOOP: ' : '') + lastFailures.length + (lastFailures.length === 4 ? '+' : '') + ' failed probe' + (lastFailures.length === 1 ? '' : 's') + ' in a row (' + (e.consecutiveFailures || lastFailures.length) + ' consecutive failures), last: ' + (lastFailures[lastFailures.length - 1].failure || 'failed') + '. ';
      if (gaps.length > 0) text += 'Gaps between failed probes: ' + gaps.map(fmtGap).join(' → ') + (loop ? ' — under a minute each: the endpoint is being hammered.' : gaps.length > 1 && growing ? ' — growing: backing off, not a loop.' : ' — the cooldown holds: not a loop.');
      else text += 'One failure so far: not a loop.';
      cls = loop ? 'bad' : 'warn';
    }
    verdict.className = cls; verdict.textContent = text;
    if (e.cooldownUntilMs !== undefined) { verdict.appendChild(document.createTextNode(' Next probe allowed in ')); verdict.appendChild(countdown(e.cooldownUntilMs)); verdict.appendChild(document.createTextNode('.')); }
    history.forEach(function (h) { var s = el('span', { cls: 'r-' + h.result, title: fmtTime(h.atMs) + ' ' + h.result + ' by ' + h.sessionId + (h.failure ? ': ' + h.failure : '') }); strip.appendChild(s); });
    var prevAttempt;
    var rows = history.map(function (h) {
      var gap = '';
      if (h.result === 'granted') { if (prevAttempt !== undefined) gap = fmtGap(h.atMs - prevAttempt); prevAttempt = h.atMs; }
      return el('tr', { 'data-result': h.result }, [
        el('td', { cls: 'sub', text: fmtTime(h.atMs) }), el('td', null, [ident(h.sessionId)]),
        el('td', null, [badge(h.result, h.result === 'failed' ? 'b-bad' : h.result === 'succeeded' ? 'b-ok' : h.result === 'granted' ? 'b-info' : '')]),
        el('td', { cls: 'sub', text: gap }), el('td', { text: h.failure ? h.failure + (h.code ? ' [' + h.code + ']' : '') : '' }),
      ]);
    }).reverse();
    if (rows.length === 0) tbody.appendChild(el('tr', null, [el('td', { cls: 'empty', colspan: '5', text: 'no probes recorded' })]));
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  // ---------------------------------------------------------------- timeline
  function shortPath(actorKey, p) { return actorKey.indexOf('session:') === 0 ? p.replace(/^active\.(connection|turn)\./, '') : p; }
  function fromTo(entry) {
    if (entry.note) return '';
    var from = entry.from.filter(function (p) { return entry.to.indexOf(p) < 0; });
    var to = entry.to.filter(function (p) { return entry.from.indexOf(p) < 0; });
    if (!entry.changed || (from.length === 0 && to.length === 0)) return (entry.to.map(function (p) { return shortPath(entry.actor, p); }).join(', ') || '–') + ' (no change)';
    return (from.map(function (p) { return shortPath(entry.actor, p); }).join(', ') || '—') + '  →  ' + to.map(function (p) { return shortPath(entry.actor, p); }).join(', ');
  }
  function renderTimeline() {
    var actorFilter = $('tl-actor').value, text = $('tl-text').value.trim().toLowerCase(), all = $('tl-all').checked;
    var tbody = $('timeline').querySelector('tbody'); tbody.textContent = '';
    var shown = 0, matched = 0;
    for (var i = S.timeline.length - 1; i >= 0; i--) {
      var e = S.timeline[i];
      if (actorFilter && e.actor !== actorFilter) continue;
      if (!all && !e.changed && !e.note) continue;
      var ft = fromTo(e);
      if (text && (e.actor + ' ' + e.event + ' ' + ft + ' ' + (e.cause || '') + ' ' + (e.detail || '')).toLowerCase().indexOf(text) < 0) continue;
      matched++;
      if (shown >= 400) continue;
      shown++;
      var tr = el('tr', { cls: 'row ' + (e.note ? 'note' : e.changed ? 'changed' : 'unchanged') + (S.travel === e.seq ? ' selected' : ''), 'data-seq': String(e.seq), 'data-actor': e.actor, 'data-event': e.event }, [
        el('td', { cls: 'sub', text: fmtTime(e.atMs) }),
        el('td', null, [ident(e.actor)]),
        el('td', null, [el('span', { cls: 'ev', text: e.event })]),
        el('td', { text: ft }),
        el('td', null, [e.cause || e.untilMs !== undefined ? el('div', { text: (e.cause || '') + (e.untilMs !== undefined ? (e.cause ? ', ' : '') + 'until ' + fmtTime(e.untilMs) : '') }) : null, e.detail ? el('div', { cls: 'detail', text: e.detail }) : null]),
      ]);
      (function (entry) { tr.addEventListener('click', function () { travelTo(entry); }); })(e);
      tbody.appendChild(tr);
    }
    if (matched === 0) tbody.appendChild(el('tr', null, [el('td', { cls: 'empty', colspan: '5', text: 'no events match' })]));
    $('tl-count').textContent = matched + ' event' + (matched === 1 ? '' : 's') + (matched > shown ? ' (newest ' + shown + ' shown)' : '') + (S.startedAtMs !== undefined ? ' since ' + fmtTime(S.startedAtMs) + ', when the inspector started' : '');
  }

  // ---------------------------------------------------------------- interaction
  function select(key, fromList) {
    S.selected = key; S.travel = null;
    if (fromList) { $('tl-actor').value = key; }
    renderAll();
  }
  function travelTo(entry) {
    S.selected = entry.actor; S.travel = entry.seq;
    renderActors(); renderChart(); renderProbes(); renderTimeline();
  }
  function defaultSelection() {
    if (S.selected && S.actors[S.selected]) return;
    var endpoints = byKind('endpoint');
    var pick = endpoints.find(function (e) { return e.endpoint && e.endpoint.status !== 'healthy'; }) || byKind('session')[0] || endpoints[0] || byKind('xstate')[0];
    S.selected = pick ? pick.key : null;
  }
  function renderAll() { defaultSelection(); renderActors(); renderChart(); renderProbes(); renderTimeline(); tickCountdowns(); }
  $('live-btn').addEventListener('click', function () { S.travel = null; renderAll(); });
  function zoom(mode) {
    S.zoom = mode;
    $('fit-btn').className = mode === 'fit' ? 'on' : ''; $('whole-btn').className = mode === 'whole' ? 'on' : ''; $('full-btn').className = mode === 'full' ? 'on' : '';
    renderChart();
  }
  $('fit-btn').addEventListener('click', function () { zoom('fit'); });
  $('whole-btn').addEventListener('click', function () { zoom('whole'); });
  $('full-btn').addEventListener('click', function () { zoom('full'); });
  $('tl-actor').addEventListener('change', renderTimeline);
  $('tl-text').addEventListener('input', renderTimeline);
  $('tl-all').addEventListener('change', renderTimeline);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape' && S.travel !== null) { S.travel = null; renderAll(); } });

  // ---------------------------------------------------------------- wire
  function setNow(now, wall) { if (typeof now === 'number') { S.now = now; S.nowAt = performance.now(); } if (typeof wall === 'boolean') S.wall = wall; }
  var scheduled = false;
  function scheduleRender() { if (scheduled) return; scheduled = true; requestAnimationFrame(function () { scheduled = false; renderAll(); }); }
  function onMessage(msg) {
    if (msg.type === 'hello') {
      S.charts = {}; (msg.charts || []).forEach(function (c) { S.charts[c.name] = c; });
      S.actors = {}; (msg.actors || []).forEach(function (a) { S.actors[a.key] = a; });
      S.timeline = msg.timeline || [];
      setNow(msg.now, msg.wallClock);
      S.startedAtMs = msg.startedAtMs;
      if (msg.title) document.title = msg.title;
      renderAll();
      document.body.setAttribute('data-ready', 'true');
    } else if (msg.type === 'update') {
      (msg.actors || []).forEach(function (a) { S.actors[a.key] = a; });
      (msg.removed || []).forEach(function (k) { delete S.actors[k]; });
      if (msg.timeline && msg.timeline.length) { S.timeline = S.timeline.concat(msg.timeline); if (S.timeline.length > 5000) S.timeline = S.timeline.slice(-5000); }
      setNow(msg.now);
      scheduleRender();
    } else if (msg.type === 'chart') {
      S.charts[msg.chart.name] = msg.chart; scheduleRender();
    } else if (msg.type === 'tick') {
      setNow(msg.now); tickCountdowns();
    }
  }
  var retry = 500;
  function connect() {
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?token=' + encodeURIComponent(token));
    ws.onopen = function () { retry = 500; S.connected = true; $('conn').className = 'live'; $('conn').textContent = 'live'; };
    ws.onmessage = function (ev) { try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error('inspector: bad message', err); } };
    ws.onclose = function () {
      S.connected = false; $('conn').className = 'down'; $('conn').textContent = 'disconnected — retrying';
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }
  setInterval(tickCountdowns, 250);
  connect();
})();
`;

/** The inspector page. The token is read by the page from its own URL; it is not embedded. */
export function inspectorPage(title = 'resilient-stream inspector'): string {
  const safeTitle = title.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${safeTitle}</title>
<style>${CSS}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The page's script, exported for a syntax check in tests. @internal */
export const PAGE_SCRIPT = SCRIPT;
