/* gridmap workspace: facilities staff upload, check, place, import, fix and publish their plans.
 *
 * Every step goes through the workspace API (/workspaces/...) and the publishing routes, with
 * the same-origin session cookie; everything is served by gridmap (see api/routes_workspace_page.py).
 * Text from files and from the server is only put into the page with textContent, never as HTML.
 *
 * The page's scripts, loaded in order by tiles/templates/workspace.html (plain scripts, no
 * bundler): this core, then on the list page workspace_home.js, on a workspace's page one file
 * per step: workspace_upload.js (1), workspace_layers.js (2, understand the drawing),
 * workspace_georef.js (3), workspace_import.js (4, import and the report), workspace_fix.js (5)
 * and workspace_publish.js (6). They share one namespace, window.workspace, which this core
 * makes: its helpers, the page's state (state), and what each step file puts there for the
 * others. The page starts when the document is parsed, so after every file has run.
 * window.workspace also exposes the maps and the state for the browser tests (state, geo,
 * preview(), unitLayers(), refresh).
 */
(function () {
  'use strict';

  var app = window.workspace = {};

  var cfg = JSON.parse(document.getElementById('workspace-config').textContent);
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === 'text') { node.textContent = String(value); }
      else if (key === 'className') { node.className = value; }
      else if (key.slice(0, 2) === 'on') { node.addEventListener(key.slice(2), value); }
      else if (value === true) { node.setAttribute(key, ''); }
      else { node.setAttribute(key, String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }

  // --- talking to the server --------------------------------------------------------------

  function ApiError(message, status, body) {
    this.message = message; this.status = status; this.body = body;
  }
  ApiError.prototype = Object.create(Error.prototype);

  async function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new ApiError('The server could not be reached (' + err.message + ').', 0, null);
    }
    var data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      var message = data && data.error && data.error.message ? data.error.message
        : data && typeof data.detail === 'string' ? data.detail : 'HTTP ' + response.status;
      throw new ApiError(message, response.status, data);
    }
    return data;
  }

  var toastTimer = null;
  function toast(text, bad) {
    var box = $('ws-toast');
    box.textContent = text;
    box.classList.toggle('ws-toast-bad', !!bad);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, bad ? 9000 : 4000);
  }

  function sizeText(bytes) {
    if (bytes === null || bytes === undefined) { return ''; }
    if (bytes < 1024) { return bytes + ' B'; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(0) + ' KB'; }
    return (bytes / 1024 / 1024).toFixed(1) + ' MB';
  }

  function enc(part) { return encodeURIComponent(String(part)); }

  function metres(m) {
    if (m === null || m === undefined || !isFinite(m)) { return '—'; }
    return m < 10 ? m.toFixed(2) + ' m' : m.toFixed(1) + ' m';
  }

  function quality(m) {
    if (m === null || m === undefined) { return 'none'; }
    return m <= 0.5 ? 'good' : m <= 2 ? 'fair' : 'bad';
  }


  function stateText(state) {
    var names = { new: 'New', uploading: 'Files uploaded', ready: 'Ready to import',
                  importing: 'Importing', imported: 'Draft ready', draft: 'Draft ready',
                  published: 'Published', failed: 'Import failed' };
    return names[state] || (state ? String(state).replace(/_/g, ' ') : '');
  }

  // =========================================================================================
  // One workspace
  // =========================================================================================

  var WS = cfg.workspace;
  var base = '/workspaces/' + enc(WS);

  var ROLES = [
    { key: 'rooms', label: 'Rooms', hint: 'closed outlines, one per room', colour: '#1f6feb' },
    { key: 'labels', label: 'Room numbers and names', hint: 'short texts inside rooms', colour: '#111111' },
    { key: 'doors', label: 'Doors', hint: 'door symbols', colour: '#d9480f' },
    { key: 'outline', label: 'Outside wall (facade)', hint: 'the building outline', colour: '#7b2cbf' },
    { key: 'walls', label: 'Walls', hint: 'wall lines, when rooms are not drawn as outlines', colour: '#6c757d' },
    { key: 'stairs', label: 'Stairs', hint: '', colour: '#2b8a3e' },
    { key: 'elevators', label: 'Lifts (elevators)', hint: '', colour: '#c2255c' }
  ];
  var OTHER_COLOUR = '#b8bcc2';
  var UNITS = [['mm', 'millimetres'], ['cm', 'centimetres'], ['dm', 'decimetres'], ['m', 'metres'],
               ['in', 'inches'], ['ft', 'feet'], ['us_ft', 'US survey feet'], ['yd', 'yards']];
  var UNIT_METRES = { mm: 0.001, cm: 0.01, dm: 0.1, m: 1, in: 0.0254, ft: 0.3048,
                      us_ft: 1200 / 3937, yd: 0.9144 };

  var S = {
    ws: null,
    local: {},          // drawing id -> what the editor set: layers, unit, building, level, pairs...
    confirmed: {},      // drawing id -> true once its layers were saved
    previews: {},       // drawing id -> preview GeoJSON (drawing units)
    cards: {},          // drawing id -> {map, groups, ...}
    geo: { drawing: null, pending: null, fit: null, fitSeq: 0 },
    campus: { published: null, current: null, bounds: null, imagery: cfg.imagery || null },
    features: null,     // the draft revision's features (lon/lat)
    featuresRevision: null,
    ordinal: null,
    placing: null,
    selectedUnit: null,
    edits: [],
    publishInfo: null
  };

  function drawings() { return (S.ws && S.ws.drawings) || []; }
  function drawingById(id) { return drawings().find(function (d) { return d.id === id; }) || null; }

  // --- loading --------------------------------------------------------------------------------

  async function load() {
    S.ws = await api('GET', base);
    drawings().forEach(initLocal);
    renderHeader();
    app.renderFiles();
    app.renderDrawings();
    app.renderGeorefChoice();
    await app.renderImportState();
    markSteps();
    document.getElementById('ws-app').setAttribute('aria-busy', 'false');
  }

  var refreshing = null;
  function refresh() {
    if (!refreshing) {
      refreshing = load().catch(function (err) { toast(err.message, true); })
        .then(function () { refreshing = null; });
    }
    return refreshing;
  }

  function guessBuilding(name) {
    var m = /^([A-Za-z0-9]{1,3})[ _-]/.exec(name);
    return m ? m[1].toUpperCase() : 'A';
  }

  function guessOrdinal(name) {
    var m = /(?:level|lvl|niveau|floor|etage|stock|og|l)[ _-]?(-?\d+)/i.exec(name);
    if (m) { var n = Number(m[1]); return n >= 1 ? n - 1 : n; }
    return 0;
  }

  function ordinalName(ordinal) {
    if (ordinal < 0) { return ordinal === -1 ? 'Basement' : 'Basement ' + (-ordinal); }
    var n = ordinal + 1;
    var suffix = (n % 100 >= 11 && n % 100 <= 13) ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
    return n + suffix + ' Floor';
  }

  // the server starts a drawing as building A, level n; a file name such as "C_level2.dxf"
  // says better, until the editor has saved something of their own
  function serverDefaults(st) {
    return !st.building_id || (st.building_name === 'Building ' + st.building_id &&
      !(st.control_points || []).length && /^(Ground Floor|Level -?\d+)$/.test(st.level_name || ''));
  }

  function initLocal(d) {
    if (S.local[d.id]) { return; }
    var st = d.settings || {};
    var prop = d.proposal || {};
    var fresh = serverDefaults(st);
    var layers = {};
    ROLES.forEach(function (r) {
      var saved = st.layers ? st.layers[r.key] : undefined;
      layers[r.key] = saved !== undefined && saved !== null ? saved : (prop[r.key] || null);
    });
    var ordinal = fresh ? guessOrdinal(d.name || '') : st.level_ordinal;
    var building = fresh ? guessBuilding(d.name || '') : st.building_id;
    S.local[d.id] = {
      layers: layers,
      unit: st.unit || prop.unit || '',  // '' : nobody knows yet; the editor must say
      building_id: building,
      building_name: fresh ? '' : st.building_name || '',
      level_ordinal: ordinal,
      level_name: fresh ? ordinalName(ordinal) : st.level_name,
      level_short_name: fresh ? (ordinal >= 0 ? String(ordinal + 1) : 'B') : st.level_short_name,
      transform: st.transform || 'similarity',
      pairs: (st.control_points || []).map(function (p, i) {
        return { name: p.name || 'Point ' + (i + 1), cad: p.cad.slice(), lonlat: p.lonlat.slice() };
      }),
      use_geodata: !!st.use_geodata,
      nextName: (st.control_points || []).length + 1
    };
    if (!fresh) { S.confirmed[d.id] = true; }
  }

  function drawingBody(id) {
    var l = S.local[id];
    return {
      building_id: l.building_id, building_name: l.building_name || ('Building ' + l.building_id),
      level_ordinal: Number(l.level_ordinal), level_name: l.level_name,
      level_short_name: l.level_short_name, layers: Object.assign({}, l.layers), unit: l.unit || null,
      transform: l.pairs.length >= 3 ? l.transform : 'similarity',
      control_points: l.pairs.map(function (p) { return { name: p.name, cad: p.cad, lonlat: p.lonlat }; }),
      use_geodata: l.use_geodata
    };
  }

  async function saveDrawing(id) {
    var saved = await api('PUT', base + '/drawings/' + enc(id), drawingBody(id));
    var d = drawingById(id);
    if (d && saved && saved.settings) { d.settings = saved.settings; }
    return saved;
  }

  function renderHeader() {
    var w = S.ws;
    $('ws-title').textContent = (w.name || w.campus_id) + (w.campus_id ? ' (' + w.campus_id + ')' : '');
    document.title = (w.name || w.campus_id) + ' · workspace · gridmap';
    var pill = $('ws-state');
    pill.textContent = stateText(w.state);
    pill.hidden = !w.state;
    pill.dataset.state = w.state || '';
  }

  function markSteps() {
    var w = S.ws;
    var ds = drawings();
    var done = {
      upload: (w.files || []).length > 0,
      layers: ds.length > 0 && ds.every(function (d) { return S.confirmed[d.id]; }),
      georef: ds.length > 0 && ds.every(function (d) {
        var l = S.local[d.id]; return l.use_geodata || l.pairs.length >= 2;
      }),
      import: !!w.report || !!w.draft_revision,
      fix: S.edits.length > 0,
      publish: !!(S.publishInfo && S.publishInfo.published)
    };
    Array.prototype.forEach.call(document.querySelectorAll('.ws-steps a'), function (a) {
      a.classList.toggle('ws-done', !!done[a.dataset.step]);
    });
  }

  // =========================================================================================
  // Start
  // =========================================================================================

  async function workspacePage() {
    app.setupUpload();
    app.setupGeoref();
    app.setupImport();
    app.setupFix();
    app.setupPublish();
    try {
      await load();
      await app.autoSiteFiles();
    } catch (err) {
      toast(err.status === 404 ? 'This workspace does not exist, or is not your organisation\'s.' : err.message, true);
      $('ws-app').setAttribute('aria-busy', 'false');
    }
    document.body.dataset.ready = 'true';
  }

  function start() {
    if (WS) { workspacePage(); } else { app.homePage(); }
  }

  Object.assign(app, {
    cfg: cfg,
    $: $,
    el: el,
    clear: clear,
    ApiError: ApiError,
    api: api,
    toast: toast,
    sizeText: sizeText,
    enc: enc,
    metres: metres,
    quality: quality,
    stateText: stateText,
    base: base,
    ROLES: ROLES,
    OTHER_COLOUR: OTHER_COLOUR,
    UNITS: UNITS,
    UNIT_METRES: UNIT_METRES,
    state: S,
    drawings: drawings,
    drawingById: drawingById,
    ordinalName: ordinalName,
    saveDrawing: saveDrawing,
    markSteps: markSteps,
    refresh: refresh,
    // for the browser tests: the step files put geo (the georeference maps) and pv (the
    // preview map) on the namespace
    preview: function () { return app.pv ? app.pv.map : null; },
    unitLayers: function () { return app.pv ? app.pv.unitLayers : {}; }
  });

  // the step files run after this one: the page starts once the document (and so every
  // script of it) is read
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
