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
header .meta b { color: #fff; font-weight: 600; }
#clock-kind { background: #6e5400; color: #fff1c2; border-radius: 4px; padding: 1px 6px; font-size: 11.5px; font-weight: 600; }
#clock-kind.wall { background: #30363d; color: #c9d1d9; }
#conn { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; }
#conn::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: #8c959f; }
#conn.live::before { background: #3fb950; } #conn.down::before { background: #f85149; } #conn.ended::before { background: #d0d7de; }
main { display: grid; gap: 10px; padding: 10px; grid-template-columns: minmax(0, 47fr) minmax(0, 53fr);
  grid-template-areas: "overview probes" "timeline chart"; grid-template-rows: auto 1fr; align-items: start; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; min-width: 0; min-height: 0; display: flex; flex-direction: column; }
#overview { grid-area: overview; }
#probes { grid-area: probes; } #chart-panel { grid-area: chart; } #timeline-panel { grid-area: timeline; }
#endpoints, #credentials, #others, table.sessions { table-layout: fixed; }
#endpoints th:nth-child(1) { width: 38%; } #endpoints th:nth-child(2) { width: 24%; } #endpoints th:nth-child(3) { width: 17%; }
#credentials th:nth-child(1) { width: 52%; } #credentials th:nth-child(2) { width: 24%; } #credentials th:nth-child(3) { width: 10%; }
table.sessions th:nth-child(1) { width: 26%; } table.sessions th:nth-child(2) { width: 40%; }
#others th:nth-child(1) { width: 50%; }
.head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; padding: 8px 12px; border-bottom: 1px solid var(--line); }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0; font-weight: 650; }
h2 .name { text-transform: none; letter-spacing: 0; color: var(--text); font-size: 13px; }
h2 .sub { text-transform: none; letter-spacing: 0; font-weight: 400; }
.group { padding: 8px 12px 4px; } .group h2 { margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 11.5px; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td { padding: 5px 6px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
tr.row { cursor: pointer; } tr.row:hover td { background: #f6f8fa; }
tr.row.selected td { background: var(--active-bg); } tr.row.selected td:first-child { box-shadow: inset 3px 0 0 var(--active); }
tr.dim td { color: var(--muted); }
.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; overflow-wrap: anywhere; }
.sub { color: var(--muted); font-size: 11.5px; }
.nowrap, .turns { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 11.5px; font-weight: 600; white-space: nowrap; background: var(--grey-bg); color: var(--muted); }
.b-ok { background: var(--green-bg); color: var(--green); } .b-warn { background: var(--amber-bg); color: var(--amber); }
.b-bad { background: var(--red-bg); color: var(--red); } .b-info { background: var(--blue-bg); color: var(--blue); }
.countdown { font-weight: 600; white-space: nowrap; }
.empty { color: var(--muted); padding: 6px 0 10px; font-style: italic; }
.sgroup { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 6px; padding: 0; }
.sgroup > summary { list-style: none; padding: 6px 8px; cursor: pointer; display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; color: var(--text); font-size: 12.5px; }
.sgroup > summary::-webkit-details-marker { display: none; }
.sgroup > summary::before { content: "▸"; color: var(--muted); width: 10px; }
.sgroup[open] > summary::before { content: "▾"; }
.sgroup > summary .id { font-weight: 600; }
.chip { display: inline-flex; gap: 4px; align-items: baseline; white-space: nowrap; }
.chip b { font-size: 14px; }
.mini { white-space: nowrap; } .mini b { font-size: 13px; } .mini .http b { color: var(--amber); } .mini .websocket b { color: var(--green); } .mini .attention b { color: var(--red); }
.chip.http b { color: var(--amber); } .chip.websocket b { color: var(--green); } .chip.attention b { color: var(--red); }
.why { color: var(--muted); }
.sgroup table { margin: 0 0 4px; }
#chart-wrap { flex: 1; overflow: auto; position: relative; background: #fbfcfd; max-height: 70vh; min-height: 300px; }
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
#probe-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 8px; padding: 8px 12px 0; }
.pchart { border: 1px solid #eef1f4; border-radius: 6px; padding: 4px 6px 2px; cursor: pointer; }
.pchart.selected { border-color: #9ec5fe; background: #f7fbff; }
.pchart .ptitle { display: flex; gap: 8px; align-items: baseline; font-size: 12px; }
.pchart .ptitle .id { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.pchart svg { display: block; width: 100%; height: 96px; }
.pchart .axis { stroke: #d0d7de; stroke-width: 1; } .pchart .grid { stroke: #eef1f4; stroke-width: 1; }
.pchart .tick { font-size: 9.5px; fill: #8c959f; }
.pchart .line { fill: none; stroke: #8c959f; stroke-width: 1.4; }
.pchart circle.failed { fill: var(--red); } .pchart circle.succeeded { fill: var(--green); }
.pchart .nodata { font-size: 11px; fill: #8c959f; }
#verdict { margin: 8px 12px; padding: 7px 10px; border-radius: 6px; background: var(--grey-bg); }
#verdict.bad { background: var(--red-bg); color: #82071e; } #verdict.warn { background: var(--amber-bg); color: #6b4a00; } #verdict.ok { background: var(--green-bg); color: #0f5323; }
#strip { display: flex; gap: 3px; flex-wrap: wrap; padding: 6px 0; }
#strip span { width: 14px; height: 14px; border-radius: 3px; background: #d0d7de; }
#strip .r-failed { background: var(--red); } #strip .r-succeeded { background: var(--green); } #strip .r-granted { background: #8fb8f0; } #strip .r-released { background: #c4ccd4; }
#probe-details { padding: 0 12px 8px; } #probe-details .tablewrap { max-height: 220px; overflow: auto; }
.tl-scroll { flex: 1; overflow: auto; min-height: 240px; max-height: 75vh; }
#timeline td { font-size: 12.5px; overflow-wrap: anywhere; }
#timeline th:nth-child(1) { width: 96px; } #timeline th:nth-child(2) { width: 25%; } #timeline th:nth-child(3) { width: 17%; } #timeline th:nth-child(4) { width: 19%; }
#timeline { table-layout: fixed; }
#timeline tr.note td { color: #3d4650; background: #fafbfc; }
#timeline tr.fold td { color: var(--muted); background: #f6f8fa; font-style: italic; }
#timeline tr.unchanged td { color: var(--muted); }
#timeline tr.selected td { background: var(--amber-bg); }
#timeline .ev { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; font-weight: 600; }
#timeline .detail { color: var(--muted); font-size: 11px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
input[type=text], select { font: inherit; font-size: 12.5px; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px; }
input[type=text] { width: 230px; }
label.check { display: inline-flex; align-items: center; gap: 4px; color: var(--muted); font-size: 12px; }
details#ctx { padding: 0 12px 8px; } summary { cursor: pointer; color: var(--muted); font-size: 12px; }
pre { font-size: 11.5px; background: #f6f8fa; padding: 8px; border-radius: 6px; overflow: auto; max-height: 240px; margin: 6px 0 0; }
`;

const BODY = String.raw`
<header>
  <h1>resilient-stream inspector</h1>
  <span id="conn">connecting…</span>
  <span class="meta"><span id="clock-kind" title="">clock</span> <b id="now">–</b></span>
  <span class="meta" id="counts"></span>
</header>
<main>
  <section id="overview">
    <div class="group"><h2>Endpoints</h2><table id="endpoints"><thead><tr><th>endpoint</th><th>health</th><th title="time until the endpoint may be probed again">next probe</th><th title="sessions on this endpoint, by the transport of their next turn">sessions</th></tr></thead><tbody></tbody></table></div>
    <div class="group"><h2>Sessions <span class="sub" id="sessions-total"></span></h2><div id="sessions"></div></div>
    <div class="group"><h2>Credentials</h2><table id="credentials"><thead><tr><th>credential</th><th>state</th><th title="token generation">gen.</th><th>refreshes</th></tr></thead><tbody></tbody></table></div>
    <div class="group" id="others-group" hidden><h2>Other xstate actors (/stately)</h2><table id="others"><thead><tr><th>actor</th><th>state</th><th>status</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section id="probes">
    <div class="head"><h2>Probes over time</h2><span class="sub">one dot per probe; its height is the wait since the previous one. Rising: backing off. Flat and low: a loop.</span></div>
    <div id="probe-charts"></div>
    <div id="verdict">No endpoint selected.</div>
    <details id="probe-details"><summary>probe history of <span id="probe-title"></span></summary><div id="strip"></div>
      <div class="tablewrap"><table id="probe-table"><thead><tr><th>time</th><th>session</th><th>result</th><th>since previous</th><th>failure</th></tr></thead><tbody></tbody></table></div></details>
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
  <section id="timeline-panel">
    <div class="head">
      <h2>Timeline</h2>
      <select id="tl-actor"><option value="">all actors</option></select>
      <input id="tl-text" type="text" placeholder="filter: event, state, cause…" autocomplete="off">
      <label class="check" title="each turn and each step of a session's chart, instead of counts"><input id="tl-turns" type="checkbox"> every turn</label>
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
  var S = { charts: {}, actors: {}, timeline: [], now: 0, nowAt: 0, wall: false, selected: null, travel: null, zoom: 'fit', connected: false, startedAtMs: undefined, open: {} };
  var token = new URLSearchParams(location.search).get('token') || '';
  var $ = function (id) { return document.getElementById(id); };
  var collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });
  function natural(a, b) { return collator.compare(a, b); }

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
  // Simulated time is shown as time since the inspector started, labelled "sim", never as a time of day.
  function simOrigin() { return S.startedAtMs !== undefined ? S.startedAtMs : 0; }
  function clockText(ms) {
    var t = Math.floor(Math.abs(ms) / 1000); var h = Math.floor(t / 3600); var m = Math.floor(t / 60) % 60; var s = t % 60;
    return (h > 0 ? h + ':' + pad(m) : pad(m)) + ':' + pad(s);
  }
  function fmtTime(ms) {
    if (ms === undefined || ms === null) return '–';
    if (S.wall) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3); }
    var rel = ms - simOrigin();
    return 'sim ' + (rel < 0 ? '−' : '+') + clockText(rel);
  }
  // A duration in words, so it cannot be read as a clock time: 41 s, 6 min 12 s, 2 h 05 min.
  function fmtDur(ms) {
    if (ms === undefined || ms === null) return '';
    if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + pad(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + pad(Math.floor(s / 60) % 60) + ' min';
  }
  function leftText(until) { var left = until - nowMs(); return left <= 0 ? 'due now' : 'in ' + fmtDur(Math.ceil(left / 1000) * 1000); }
  function countdown(until) {
    if (until === undefined || until === null) return el('span', { cls: 'sub', text: '–' });
    return el('span', { cls: 'countdown', 'data-until': String(until), title: (S.wall ? 'at ' : 'simulated time: at ') + fmtTime(until), text: leftText(until) });
  }
  function tickCountdowns() {
    document.querySelectorAll('.countdown').forEach(function (node) { node.textContent = leftText(Number(node.getAttribute('data-until'))); });
    $('now').textContent = S.now ? fmtTime(nowMs()) : '–';
  }
  function tone(text) {
    if (/^(healthy|socket\.open|open|valid|stable|settling|websocket)/.test(text)) return 'b-ok';
    if (/(cooling|fallback|retrying|refreshing|probeInFlight|connecting|claiming|http)/.test(text)) return 'b-warn';
    if (/(unsupported|reauth|error|failed|sign-in)/.test(text)) return 'b-bad';
    if (/(released|stopped|done)/.test(text)) return '';
    return 'b-info';
  }
  function ident(text) {
    var node = el('div', { cls: 'id' });
    String(text).split(/(?<=[\/#])/).forEach(function (part, i) { if (i > 0) node.appendChild(document.createElement('wbr')); node.appendChild(document.createTextNode(part)); });
    return node;
  }
  function badge(text, cls) { return el('span', { cls: 'badge ' + (cls === undefined ? tone(text) : cls), text: text }); }
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  // ---------------------------------------------------------------- actors
  function byKind(kind) {
    return Object.keys(S.actors).map(function (k) { return S.actors[k]; }).filter(function (a) { return a.kind === kind; })
      .sort(function (a, b) { return natural(a.id, b.id); });
  }
  // The run is over when every endpoint chart has stopped: the manager was closed.
  function runEnded() {
    var endpoints = byKind('endpoint');
    return endpoints.length > 0 && endpoints.every(function (e) { return e.endpoint && e.endpoint.status === 'stopped'; });
  }
  function row(actor, cells) {
    var tr = el('tr', { cls: 'row' + (S.selected === actor.key ? ' selected' : '') + (actor.status !== 'active' && !runEnded() ? ' dim' : ''), 'data-actor': actor.key }, cells.map(function (c) { return el('td', null, [c]); }));
    tr.addEventListener('click', function (ev) { ev.stopPropagation(); select(actor.key, true); });
    return tr;
  }
  function fill(tbodyParent, rows, emptyText, cols) {
    var tbody = tbodyParent.querySelector('tbody'); tbody.textContent = '';
    if (rows.length === 0) tbody.appendChild(el('tr', null, [el('td', { cls: 'empty', colspan: String(cols), text: emptyText })]));
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  function turnsText(t) {
    var parts = [];
    if (t.websocket) parts.push(t.websocket + ' ws');
    if (t.http) parts.push(t.http + ' http');
    if (t.failed) parts.push(t.failed + ' failed');
    return parts.join(' · ') || 'no turn yet';
  }
  // Where a session is, as the operator asks it: on HTTP (and why), on its WebSocket, waiting for a sign-in…
  // When the run has ended, where it was when it ended.
  var BUCKETS = ['http', 'attention', 'connecting', 'websocket', 'idle', 'released'];
  var BUCKET_TEXT = { http: 'on HTTP', attention: 'need a sign-in', connecting: 'connecting', websocket: 'on WebSocket', idle: 'no turn yet', released: 'released' };
  function placeOf(a) {
    var s = a.session || {};
    var live = s.connection === 'released' ? (runEnded() && s.lastLive ? s.lastLive : null) : { connection: s.connection, transport: s.transport, httpReason: s.httpReason };
    if (!live) return { bucket: 'released', connection: 'released' };
    var c = live.connection || '';
    var bucket = c === 'socket.open' ? 'websocket' : c === 'fallback' ? 'http' : /reauth|confirmingSignIn/.test(c) ? 'attention' : c === 'idle' || c === '' ? 'idle' : 'connecting';
    return { bucket: bucket, connection: c, reason: bucket === 'http' ? (live.httpReason || 'unknown') : undefined };
  }
  function sessionGroups() {
    var groups = {};
    byKind('session').forEach(function (a) {
      var key = (a.session && a.session.endpointKey) || '(unknown endpoint)';
      var g = groups[key] || (groups[key] = { key: key, sessions: [], counts: {}, reasons: {} });
      var place = placeOf(a);
      g.sessions.push({ actor: a, place: place });
      g.counts[place.bucket] = (g.counts[place.bucket] || 0) + 1;
      if (place.reason) g.reasons[place.reason] = (g.reasons[place.reason] || 0) + 1;
    });
    var order = {}; endpointsBySeverity().forEach(function (e, i) { order[e.id] = i; });
    var rank = function (k) { return order[k] === undefined ? 1e9 : order[k]; };
    return Object.keys(groups).sort(function (a, b) { return rank(a) - rank(b) || natural(a, b); }).map(function (k) {
      var g = groups[k];
      g.sessions.sort(function (x, y) { return BUCKETS.indexOf(x.place.bucket) - BUCKETS.indexOf(y.place.bucket) || natural(x.actor.id, y.actor.id); });
      return g;
    });
  }
  function reasonsText(reasons) {
    return Object.keys(reasons).sort(function (a, b) { return reasons[b] - reasons[a] || natural(a, b); }).map(function (r) { return r + ' ' + reasons[r]; }).join(', ');
  }
  function chips(g, withReasons) {
    var out = [];
    BUCKETS.forEach(function (b) {
      var n = g.counts[b] || 0;
      if (n === 0 && b !== 'http' && b !== 'websocket') return;
      var chip = el('span', { cls: 'chip ' + b, 'data-bucket': b, 'data-count': String(n) }, [el('b', { text: String(n) }), BUCKET_TEXT[b]]);
      if (b === 'http' && withReasons && n > 0) chip.appendChild(el('span', { cls: 'why', text: '(' + reasonsText(g.reasons) + ')' }));
      out.push(chip);
    });
    return out;
  }
  function endpointOf(key) { return S.actors['endpoint:' + key]; }
  // Endpoints that need attention first, then by name.
  var SEVERITY = { unsupported: 0, 'cooling-down': 1, probing: 2, healthy: 3, stopped: 4 };
  function endpointsBySeverity() {
    return byKind('endpoint').sort(function (a, b) {
      var sa = SEVERITY[(a.endpoint || {}).status], sb = SEVERITY[(b.endpoint || {}).status];
      return (sa === undefined ? 2 : sa) - (sb === undefined ? 2 : sb) || natural(a.id, b.id);
    });
  }
  // The endpoint table's compact count: "12 http · 0 ws".
  function miniCounts(g) {
    var parts = [];
    [['http', 'http'], ['websocket', 'ws'], ['attention', 'sign-in'], ['connecting', 'connecting']].forEach(function (b) {
      var n = g.counts[b[0]] || 0;
      if (n === 0 && b[0] !== 'http' && b[0] !== 'websocket') return;
      if (parts.length) parts.push(' · ');
      parts.push(el('span', { cls: b[0], 'data-bucket': b[0], 'data-count': String(n) }, [el('b', { text: String(n) }), ' ' + b[1]]));
    });
    return el('span', { cls: 'mini' }, parts);
  }
  function renderActors() {
    var endpoints = endpointsBySeverity(), creds = byKind('credential'), others = byKind('xstate');
    var ended = runEnded();
    var groups = sessionGroups();
    var groupOf = {}; groups.forEach(function (g) { groupOf[g.key] = g; });
    fill($('endpoints'), endpoints.map(function (a) {
      var e = a.endpoint || {};
      var status = e.status || a.state;
      if (ended && e.lastLiveStatus) status = e.lastLiveStatus;
      var until = e.cooldownUntilMs;
      var g = groupOf[a.id];
      return row(a, [
        el('div', null, [ident(a.id), e.lastFailure && status !== 'healthy' ? el('div', { cls: 'sub', text: e.lastFailure }) : null]),
        el('div', null, [badge(status, tone(status === 'cooling-down' ? 'cooling' : status)), el('div', { cls: 'sub', text: (ended ? 'at the end · ' : '') + (e.consecutiveFailures ? e.consecutiveFailures + ' failed · ' : '') + plural(e.probesGranted || 0, 'probe') })]),
        until !== undefined && !ended ? countdown(until) : el('span', { cls: 'sub', text: ended ? '–' : status === 'probing' ? 'next turn' : '–' }),
        g ? miniCounts(g) : el('span', { cls: 'sub', text: 'none' }),
      ]);
    }), 'no endpoints', 4);
    renderSessions(groups, ended);
    renderCredentials(creds);
    $('others-group').hidden = others.length === 0;
    fill($('others'), others.map(function (a) { return row(a, [ident(a.id), badge(a.state || '–'), el('span', { cls: 'sub', text: a.status })]); }), 'none', 3);
    var total = 0, http = 0;
    groups.forEach(function (g) { g.sessions.forEach(function (s) { if (s.place.bucket !== 'released') total++; if (s.place.bucket === 'http') http++; }); });
    $('counts').textContent = plural(endpoints.length, 'endpoint') + ' · ' + (ended ? plural(total, 'session') + ' when the run ended' : plural(total, 'live session')) + ' · ' + http + ' on HTTP';
    // The tab says it too, for a page left open among others.
    var trouble = endpoints.filter(function (e) { return e.endpoint && (e.endpoint.status === 'cooling-down' || e.endpoint.status === 'unsupported'); }).length;
    document.title = (ended ? 'ended · ' : trouble ? trouble + ' down · ' + http + ' on HTTP · ' : '') + (S.title || 'resilient-stream inspector');
    renderActorOptions();
  }
  function renderSessions(groups, ended) {
    var box = $('sessions'); box.textContent = '';
    var selected = S.selected ? S.actors[S.selected] : null;
    var total = 0; groups.forEach(function (g) { total += g.sessions.length; });
    $('sessions-total').textContent = total === 0 ? '' : '· by endpoint; click a line for the sessions' + (ended ? ' · where each was when the run ended' : '');
    if (groups.length === 0) { box.appendChild(el('div', { cls: 'empty', text: 'no sessions' })); return; }
    groups.forEach(function (g) {
      var openNow = S.open[g.key] === true || (selected && selected.kind === 'session' && selected.session && selected.session.endpointKey === g.key);
      var details = el('details', { cls: 'sgroup', 'data-endpoint': g.key });
      if (openNow) details.open = true;
      var summary = el('summary', null, [ident(g.key), el('span', { cls: 'sub', text: plural(g.sessions.length, 'session') + ':' })].concat(chips(g, true)));
      details.appendChild(summary);
      details.addEventListener('toggle', function () { var was = S.open[g.key] === true; S.open[g.key] = details.open; if (details.open && !was && !details.querySelector('table')) renderActors(); });
      // A closed group builds no rows: a gateway with thousands of sessions redraws counts only.
      if (!openNow) { box.appendChild(details); return; }
      var table = el('table', { cls: 'sessions' }, [el('thead', null, [el('tr', null, [el('th', { text: 'session' }), el('th', { text: ended ? 'state at the end' : 'state' }), el('th', { text: 'next probe' }), el('th', { text: 'turns' })])]), el('tbody')]);
      var ep = endpointOf(g.key);
      var until = ep && ep.endpoint ? ep.endpoint.cooldownUntilMs : undefined;
      fill(table, g.sessions.map(function (entry) {
        var a = entry.actor, s = a.session || {}, place = entry.place;
        var stateCell = el('div', null, [
          badge(BUCKET_TEXT[place.bucket] || place.connection, place.bucket === 'http' ? 'b-warn' : place.bucket === 'websocket' ? 'b-ok' : place.bucket === 'attention' ? 'b-bad' : ''),
          place.reason ? el('span', { cls: 'sub', text: ' ' + place.reason }) : null,
          place.bucket === 'http' && s.lastFailure ? el('div', { cls: 'sub', text: s.lastFailure }) : null,
          s.turn && s.turn !== 'idle' && s.turn !== 'released' ? el('div', { cls: 'sub', text: 'turn: ' + s.turn }) : null,
        ]);
        return row(a, [ident(a.id), stateCell, place.bucket === 'http' && !ended && until !== undefined ? countdown(until) : el('span', { cls: 'sub', text: place.bucket === 'http' && !ended ? 'next turn' : '–' }), el('span', { cls: 'turns sub', title: turnsText(s.turns || {}), text: turnsText(s.turns || {}) })]);
      }), 'none', 4);
      details.appendChild(table);
      box.appendChild(details);
    });
  }
  // One row per credential. A token given as a plain string is named by the manager after the
  // first endpoint that used it; shown as "static token N" with every endpoint that uses it.
  function renderCredentials(creds) {
    var usedBy = {};
    byKind('session').forEach(function (s) {
      var ref = s.context && s.context.credential;
      var ep = s.session && s.session.endpointKey;
      if (ref && typeof ref.sessionId === 'string' && ep) (usedBy[ref.sessionId] = usedBy[ref.sessionId] || {})[ep] = true;
    });
    var seen = {}, n = 0;
    var rows = creds.filter(function (a) { if (seen[a.sessionId]) return false; seen[a.sessionId] = true; return true; }).map(function (a) {
      var c = a.credential || {};
      var auto = /^(.*)\/(token|credentials)$/.exec(a.id);
      var endpoints = usedBy[a.sessionId] || {};
      var names = Object.keys(endpoints).sort(natural);
      var label = auto ? (auto[2] === 'token' ? 'static token ' : 'credentials ') + (++n) : a.id;
      return row(a, [
        el('div', null, [el('div', { cls: 'id', 'data-label': label, text: label }), names.length ? el('div', { cls: 'sub', text: 'used by ' + names.join(', ') }) : auto ? el('div', { cls: 'sub', text: auto[2] === 'token' ? 'a token given as a string in the config' : 'credentials given in the config' }) : null, c.lastFailure ? el('div', { cls: 'sub', text: c.lastFailure }) : null]),
        badge(a.state), el('span', { text: c.generation === undefined ? '–' : String(c.generation) }), el('span', { text: c.refreshesStarted === undefined ? '–' : String(c.refreshesStarted) }),
      ]);
    });
    fill($('credentials'), rows, 'no credentials', 4);
  }
  function renderActorOptions() {
    var select = $('tl-actor'); var current = select.value;
    var keys = Object.keys(S.actors).sort(natural);
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
    if (actor && actor.kind === 'session' && actor.session && actor.session.endpointKey) return endpointOf(actor.session.endpointKey) || null;
    var endpoints = byKind('endpoint');
    return endpoints.find(function (e) { return e.endpoint && e.endpoint.status !== 'healthy' && e.endpoint.status !== 'stopped'; }) || endpoints[0] || null;
  }
  // Probe outcomes (failed or succeeded), each with the wait since the previous outcome.
  function probeOutcomes(history) {
    var out = [], prev;
    (history || []).forEach(function (h) {
      if (h.result !== 'failed' && h.result !== 'succeeded') return;
      out.push({ atMs: h.atMs, result: h.result, gapMs: prev === undefined ? undefined : h.atMs - prev, failure: h.failure, sessionId: h.sessionId });
      prev = h.atMs;
    });
    return out;
  }
  function verdictOf(e) {
    var history = e.history || [];
    var lastFailures = [];
    for (var i = history.length - 1; i >= 0 && lastFailures.length < 4; i--) { if (history[i].result === 'succeeded') break; if (history[i].result === 'failed') lastFailures.unshift(history[i]); }
    var gaps = []; for (var j = 1; j < lastFailures.length; j++) gaps.push(lastFailures[j].atMs - lastFailures[j - 1].atMs);
    var attempts = history.filter(function (h) { return h.result === 'granted'; });
    if (history.length === 0) return { cls: '', short: 'no probe yet', text: 'No probe yet: no session has tried a WebSocket on this endpoint since the gateway started.' };
    if (lastFailures.length === 0) return { cls: 'ok', short: 'last probe succeeded', text: 'Last probe succeeded: the WebSocket works. ' + plural(attempts.length, 'probe') + ' in the history.' };
    var loop = lastFailures.length >= 3 && gaps.every(function (g) { return g < 60000; });
    var growing = gaps.length > 1 && gaps.every(function (g, k) { return k === 0 || g >= gaps[k - 1] * 0.9; });
    var text = (loop ? 'PROBE LOOP: ' : '') + lastFailures.length + (lastFailures.length === 4 ? '+' : '') + ' failed probe' + (lastFailures.length === 1 ? '' : 's') + ' in a row (' + plural(e.consecutiveFailures || lastFailures.length, 'consecutive failure') + '), last: ' + (lastFailures[lastFailures.length - 1].failure || 'failed') + '. ';
    if (gaps.length > 0) text += 'Gaps between failed probes: ' + gaps.map(fmtDur).join(' → ') + (loop ? ' — under a minute each: the endpoint is being hammered.' : growing ? ' — growing: backing off, not a loop.' : ' — the cooldown holds: not a loop.');
    else text += 'One failure so far: not a loop.';
    return { cls: loop ? 'bad' : 'warn', short: loop ? 'PROBE LOOP' : growing ? 'backing off' : 'cooling down', text: text };
  }
  function probeChart(endpoint, selected) {
    var e = endpoint.endpoint || { history: [] };
    var points = probeOutcomes(e.history);
    var verdict = verdictOf(e);
    var box = el('div', { cls: 'pchart' + (selected ? ' selected' : ''), 'data-endpoint': endpoint.id, 'data-points': String(points.length) }, [
      el('div', { cls: 'ptitle' }, [el('span', { cls: 'id', text: endpoint.id }), badge(verdict.short, verdict.cls === 'bad' ? 'b-bad' : verdict.cls === 'ok' ? 'b-ok' : verdict.cls === 'warn' ? 'b-warn' : '')]),
    ]);
    box.addEventListener('click', function () { select(endpoint.key, true); });
    var W = 400, H = 96, L = 38, R = 6, T = 6, B = 16;
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'probes of ' + endpoint.id + ' over time' });
    var now = nowMs();
    var x0 = Math.min(simOrigin() || now, points.length ? points[0].atMs : now), x1 = Math.max(now, x0 + 1000);
    if (S.wall && points.length) x0 = points[0].atMs - Math.max(1000, (now - points[0].atMs) * 0.05);
    var gaps = points.filter(function (p) { return p.gapMs !== undefined; }).map(function (p) { return p.gapMs; });
    // Log scale from 1 s to an hour (or the largest gap): backoff doubles, so it rises in steps.
    var yMax = Math.max(3600000, Math.max.apply(null, gaps.concat([0])));
    var ly = function (ms) { var v = Math.log10(Math.max(1000, ms) / 1000) / Math.log10(yMax / 1000); return T + (H - T - B) * (1 - v); };
    var lx = function (ms) { return L + (W - L - R) * (ms - x0) / (x1 - x0); };
    [[10000, '10 s'], [60000, '1 min'], [600000, '10 min'], [3600000, '1 h']].forEach(function (t) {
      if (t[0] > yMax) return;
      root.appendChild(svg('line', { 'class': 'grid', x1: L, x2: W - R, y1: ly(t[0]), y2: ly(t[0]) }));
      var label = svg('text', { 'class': 'tick', x: L - 4, y: ly(t[0]) + 3, 'text-anchor': 'end' }); label.textContent = t[1]; root.appendChild(label);
    });
    root.appendChild(svg('line', { 'class': 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    var start = svg('text', { 'class': 'tick', x: L, y: H - 4 }); start.textContent = fmtTime(x0); root.appendChild(start);
    var end = svg('text', { 'class': 'tick', x: W - R, y: H - 4, 'text-anchor': 'end' }); end.textContent = fmtTime(x1); root.appendChild(end);
    var withGap = points.filter(function (p) { return p.gapMs !== undefined; });
    if (withGap.length > 1) root.appendChild(svg('polyline', { 'class': 'line', points: withGap.map(function (p) { return lx(p.atMs) + ',' + ly(p.gapMs); }).join(' ') }));
    points.forEach(function (p) {
      var c = svg('circle', { 'class': p.result, cx: lx(p.atMs), cy: p.gapMs === undefined ? H - B : ly(p.gapMs), r: 3.2, 'data-result': p.result, 'data-gap-ms': p.gapMs === undefined ? '' : String(p.gapMs) });
      var title = svg('title', {}); title.textContent = fmtTime(p.atMs) + ' ' + p.result + ' (' + p.sessionId + ')' + (p.gapMs !== undefined ? ', ' + fmtDur(p.gapMs) + ' after the previous probe' : ', first probe') + (p.failure ? ': ' + p.failure : '');
      c.appendChild(title); root.appendChild(c);
    });
    if (points.length === 0) { var t = svg('text', { 'class': 'nodata', x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle' }); t.textContent = 'no probe recorded'; root.appendChild(t); }
    box.appendChild(root);
    return box;
  }
  function renderProbes() {
    var endpoint = probeEndpoint();
    var charts = $('probe-charts'); charts.textContent = '';
    endpointsBySeverity().forEach(function (a) { charts.appendChild(probeChart(a, endpoint && endpoint.key === a.key)); });
    var verdict = $('verdict'), strip = $('strip'), tbody = $('probe-table').querySelector('tbody');
    strip.textContent = ''; tbody.textContent = '';
    if (!endpoint) { $('probe-title').textContent = ''; verdict.className = ''; verdict.textContent = 'No endpoint.'; return; }
    $('probe-title').textContent = endpoint.id;
    var e = endpoint.endpoint || { history: [] };
    var history = e.history || [];
    var v = verdictOf(e);
    verdict.className = v.cls; verdict.textContent = endpoint.id + ': ' + v.text;
    if (e.cooldownUntilMs !== undefined && !runEnded()) { verdict.appendChild(document.createTextNode(' Next probe allowed ')); verdict.appendChild(countdown(e.cooldownUntilMs)); verdict.appendChild(document.createTextNode('.')); }
    history.forEach(function (h) { var s = el('span', { cls: 'r-' + h.result, title: fmtTime(h.atMs) + ' ' + h.result + ' by ' + h.sessionId + (h.failure ? ': ' + h.failure : '') }); strip.appendChild(s); });
    var prevAttempt;
    var rows = history.map(function (h) {
      var gap = '';
      if (h.result === 'granted') { if (prevAttempt !== undefined) gap = fmtDur(h.atMs - prevAttempt); prevAttempt = h.atMs; }
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
  // Routine rows (turns that completed) fold into one counted row per run of them, unless "every turn" is ticked.
  // Every turn walks its session's chart (requested, permission, denied while cooling down,
  // streaming, completed): routine. What an operator needs from sessions arrives as notes
  // (fallback, upgrade, recovered, a failed turn), which stay.
  function routine(e) {
    if (e.routine) return true;
    return !e.note && e.actor.indexOf('session:') === 0;
  }
  function foldRow(fold) {
    var by = Object.keys(fold.transports).sort().map(function (t) { return fold.transports[t] + ' over ' + t; }).join(', ');
    var tr = el('tr', { cls: 'row fold', 'data-event': 'turns', 'data-count': String(fold.count) }, [
      el('td', { cls: 'sub', text: fmtTime(fold.lastMs) }),
      el('td', { text: plural(Object.keys(fold.actors).length, 'session') }),
      el('td', null, [el('span', { cls: 'ev', text: 'turns' })]),
      el('td', { text: '' }),
      el('td', { text: (fold.count > 0 ? plural(fold.count, 'turn') + ' completed (' + by + ')' : '') + (fold.count > 0 && fold.steps > 0 ? ' · ' : '') + (fold.steps > 0 ? plural(fold.steps, 'session step') : '') }),
    ]);
    tr.title = 'routine turns, folded' + (fold.firstMs !== fold.lastMs ? ' (' + fmtTime(fold.firstMs) + ' to ' + fmtTime(fold.lastMs) + ')' : '') + ': tick “every turn” to list them';
    tr.addEventListener('click', function () { $('tl-turns').checked = true; renderTimeline(); });
    return tr;
  }
  function renderTimeline() {
    var actorFilter = $('tl-actor').value, text = $('tl-text').value.trim().toLowerCase(), all = $('tl-all').checked, everyTurn = $('tl-turns').checked;
    var tbody = $('timeline').querySelector('tbody'); tbody.textContent = '';
    var shown = 0, matched = 0, fold = null;
    var flush = function () { if (fold) { if (shown < 400) { tbody.appendChild(foldRow(fold)); shown++; } fold = null; } };
    for (var i = S.timeline.length - 1; i >= 0; i--) {
      var e = S.timeline[i];
      if (actorFilter && e.actor !== actorFilter) continue;
      if (!all && !e.changed && !e.note) continue;
      var ft = fromTo(e);
      if (text && (e.actor + ' ' + e.event + ' ' + ft + ' ' + (e.cause || '') + ' ' + (e.detail || '')).toLowerCase().indexOf(text) < 0) continue;
      matched++;
      if (!everyTurn && actorFilter.indexOf('session:') !== 0 && routine(e)) {
        fold = fold || { count: 0, steps: 0, firstMs: e.atMs, lastMs: e.atMs, actors: {}, transports: {} };
        fold.firstMs = e.atMs; fold.actors[e.actor] = true;
        if (e.routine) { fold.count++; var tp = e.transport || 'unknown'; fold.transports[tp] = (fold.transports[tp] || 0) + 1; } else fold.steps++;
        continue;
      }
      flush();
      if (shown >= 400) continue;
      shown++;
      var tr = el('tr', { cls: 'row ' + (e.note ? 'note' : e.changed ? 'changed' : 'unchanged') + (S.travel === e.seq ? ' selected' : ''), 'data-seq': String(e.seq), 'data-actor': e.actor, 'data-event': e.event }, [
        el('td', { cls: 'sub', text: fmtTime(e.atMs) }),
        el('td', null, [ident(e.actor)]),
        el('td', null, [el('span', { cls: 'ev', text: e.event })]),
        el('td', { text: ft }),
        el('td', null, [e.cause || e.untilMs !== undefined ? el('div', { text: (e.cause || '') + (e.untilMs !== undefined ? (e.cause ? ', ' : '') + 'until ' + fmtTime(e.untilMs) : '') }) : null, e.detail ? el('div', { cls: 'detail', title: e.detail, text: e.detail }) : null]),
      ]);
      (function (entry) { tr.addEventListener('click', function () { travelTo(entry); }); })(e);
      tbody.appendChild(tr);
    }
    flush();
    if (matched === 0) tbody.appendChild(el('tr', null, [el('td', { cls: 'empty', colspan: '5', text: 'no events match' })]));
    $('tl-count').textContent = plural(matched, 'event') + (shown >= 400 ? ' (newest shown)' : '') + (S.startedAtMs !== undefined ? ' since ' + fmtTime(S.startedAtMs) + ', when the inspector started' : '');
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
  function renderHeader() {
    var conn = $('conn'), ended = runEnded();
    if (!S.connected) { conn.className = 'down'; conn.textContent = ended ? 'ended · inspector disconnected' : 'disconnected — retrying'; }
    else if (ended) { conn.className = 'ended'; conn.textContent = 'ended'; conn.title = 'the manager was closed: this is what the run left behind'; }
    else { conn.className = 'live'; conn.textContent = 'live'; conn.title = ''; }
    var kind = $('clock-kind');
    kind.className = S.wall ? 'wall' : 'sim';
    kind.textContent = S.wall ? 'clock' : 'simulated time';
    kind.title = S.wall ? 'the manager runs on the system clock' : 'the manager runs on a simulated clock: times are shown as sim +mm:ss since the inspector started, and countdowns in simulated time';
  }
  function renderAll() { defaultSelection(); renderHeader(); renderActors(); renderChart(); renderProbes(); renderTimeline(); tickCountdowns(); }
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
  $('tl-turns').addEventListener('change', renderTimeline);
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
      if (msg.title) S.title = msg.title;
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
    ws.onopen = function () { retry = 500; S.connected = true; renderHeader(); };
    ws.onmessage = function (ev) { try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error('inspector: bad message', err); } };
    ws.onclose = function () {
      S.connected = false; renderHeader();
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
