/* gridmap workspace: facilities staff upload, check, place, import, fix and publish their plans.
 *
 * Every step goes through the workspace API (/workspaces/...) and the publishing routes, with
 * the same-origin session cookie; everything is served by gridmap (see api/routes_workspace_page.py).
 * Text from files and from the server is only put into the page with textContent, never as HTML.
 * window.workspace exposes the maps and the state for the browser tests.
 */
(function () {
  'use strict';

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

  // =========================================================================================
  // The list page: the organisation's workspaces and a new one
  // =========================================================================================

  function slug(text) {
    return text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  }

  async function homePage() {
    var name = $('ws-new-name');
    var id = $('ws-new-id');
    var idTouched = false;
    id.addEventListener('input', function () { idTouched = true; });
    name.addEventListener('input', function () { if (!idTouched) { id.value = slug(name.value); } });
    $('ws-new').addEventListener('submit', async function (ev) {
      ev.preventDefault();
      $('ws-new-error').textContent = '';
      try {
        var made = await api('POST', '/workspaces', { campus_id: id.value.trim(),
                                                       campus_name: name.value.trim() });
        location.href = '/workspace/' + enc(made.id);
      } catch (err) {
        $('ws-new-error').textContent = err.message;
      }
    });
    try {
      var listed = await api('GET', '/workspaces');
      var rows = listed.workspaces || [];
      $('ws-list-empty').hidden = rows.length > 0;
      $('ws-list').hidden = rows.length === 0;
      var body = clear($('ws-list').tBodies[0]);
      rows.forEach(function (w) {
        body.appendChild(el('tr', {}, [
          el('td', {}, [el('a', { href: '/workspace/' + enc(w.id), text: w.name || w.campus_id }),
                        el('span', { className: 'ws-muted', text: ' ' + (w.campus_id || '') })]),
          el('td', {}, [el('span', { className: 'ws-pill', text: stateText(w.state) })]),
          el('td', { text: (w.updated_at || '').replace('T', ' ').slice(0, 16) }),
          el('td', { text: w.created_by || '' })
        ]));
      });
    } catch (err) {
      $('ws-list-empty').hidden = false;
      $('ws-list-empty').textContent = 'The workspaces could not be listed: ' + err.message;
    }
    document.body.dataset.ready = 'true';
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
    renderFiles();
    renderDrawings();
    renderGeorefChoice();
    await renderImportState();
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
  // Step 1: upload
  // =========================================================================================

  function uploadOne(file) {
    var bar = el('span');
    var status = el('span', { className: 'ws-upload-status', text: 'waiting' });
    var item = el('li', { className: 'ws-upload', 'data-name': file.name }, [
      el('span', { className: 'ws-upload-name', text: file.name }),
      el('span', { className: 'ws-muted', text: sizeText(file.size) }),
      el('div', { className: 'ws-bar' }, [bar]),
      status
    ]);
    $('ws-uploads').appendChild(item);
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open('POST', base + '/files');
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.addEventListener('progress', function (ev) {
        if (ev.lengthComputable) {
          var pct = Math.round(100 * ev.loaded / ev.total);
          bar.style.width = pct + '%';
          status.textContent = pct < 100 ? 'uploading ' + pct + '%' : 'reading the file…';
        }
      });
      xhr.addEventListener('load', function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.style.width = '100%';
          var n = data && data.drawings ? data.drawings.length : 0;
          var kind = data && data.file ? KIND_NAMES[data.file.kind] : null;
          status.textContent = (data && data.duplicate ? 'already in this workspace; ' : '') +
            (n ? 'read: ' + n + (n === 1 ? ' drawing' : ' drawings')
              : kind ? 'read: ' + kind.toLowerCase() : 'uploaded');
          item.classList.add('ws-upload-ok');
          resolve(true);
        } else {
          var message = data && data.error ? data.error.message : 'HTTP ' + xhr.status;
          status.textContent = '';
          item.classList.add('ws-upload-failed');
          item.appendChild(el('p', { className: 'ws-error', role: 'alert', text: message }));
          resolve(false);
        }
      });
      xhr.addEventListener('error', function () {
        item.classList.add('ws-upload-failed');
        item.appendChild(el('p', { className: 'ws-error', text: 'The upload was cut off; try again.' }));
        resolve(false);
      });
      var form = new FormData();
      form.append('file', file, file.name);
      status.textContent = 'uploading';
      xhr.send(form);
    });
  }

  async function uploadFiles(list) {
    var files = Array.prototype.slice.call(list);
    if (!files.length) { return; }
    var results = await Promise.all(files.map(uploadOne));
    await refresh();
    await autoSiteFiles();
    document.body.dataset.uploads = String(
      (Number(document.body.dataset.uploads) || 0) + results.length);
  }

  function setupUpload() {
    var drop = $('ws-drop');
    var input = $('ws-file');
    ['dragenter', 'dragover'].forEach(function (type) {
      drop.addEventListener(type, function (ev) { ev.preventDefault(); drop.classList.add('ws-over'); });
    });
    ['dragleave', 'drop'].forEach(function (type) {
      drop.addEventListener(type, function () { drop.classList.remove('ws-over'); });
    });
    drop.addEventListener('drop', function (ev) {
      ev.preventDefault();
      uploadFiles(ev.dataTransfer.files);
    });
    drop.addEventListener('click', function (ev) { if (ev.target === drop) { input.click(); } });
    drop.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); input.click(); }
    });
    input.addEventListener('change', function () {
      uploadFiles(input.files);
      input.value = '';
    });
    $('ws-save-settings').addEventListener('click', function () {
      saveSettings({ parcel_file: $('ws-parcel').value || null,
                     grounds_file: $('ws-grounds').value || null,
                     campus_name: $('ws-campus-name').value.trim(),
                     address: $('ws-address').value.trim() })
        .then(function () { toast('Campus details saved.'); loadEarthLayers(); })
        .catch(function (err) { toast(err.message, true); });
    });
  }

  var SETTING_KEYS = ['campus_name', 'address', 'grid', 'parcel_file', 'grounds_file', 'pois_file'];

  async function saveSettings(changes) {
    var now = Object.assign({}, S.ws.settings || {}, changes);
    var body = {};
    SETTING_KEYS.forEach(function (k) { if (now[k] !== undefined) { body[k] = now[k]; } });
    S.ws.settings = await api('PUT', base + '/settings', body);
  }

  // a single parcel or grounds file is taken as the campus's without asking
  async function autoSiteFiles() {
    var st = S.ws.settings || {};
    var files = S.ws.files || [];
    var changes = {};
    ['parcel', 'grounds'].forEach(function (kind) {
      var of = files.filter(function (f) { return f.kind === kind && !f.error; });
      if (!st[kind + '_file'] && of.length === 1) { changes[kind + '_file'] = of[0].id; }
    });
    if (Object.keys(changes).length) {
      try {
        await saveSettings(changes);
        renderFiles();
        loadEarthLayers();
      } catch (err) { toast(err.message, true); }
    }
  }

  var KIND_NAMES = { dxf: 'Floor plan (DXF)', parcel: 'Site boundary', grounds: 'Grounds',
                     pois: 'Points list', osm: 'OpenStreetMap indoor', imdf: 'IMDF archive',
                     imagery: 'Aerial photo' };

  function renderFiles() {
    var files = S.ws.files || [];
    var table = $('ws-files');
    table.hidden = files.length === 0;
    var body = clear(table.tBodies[0]);
    files.forEach(function (f) {
      body.appendChild(el('tr', { 'data-file': f.id }, [
        el('td', { text: f.name }),
        el('td', { text: KIND_NAMES[f.kind] || f.kind || '' }),
        el('td', { text: sizeText(f.size) }),
        el('td', { className: f.error ? 'ws-error' : 'ws-ok', text: f.error || 'read' }),
        el('td', {}, [el('button', { type: 'button', className: 'ws-quiet', text: 'Remove',
                                     'aria-label': 'Remove ' + f.name,
                                     onclick: function () { removeFile(f); } })])
      ]));
    });
    var st = S.ws.settings || {};
    $('ws-sitefiles').hidden = files.length === 0;
    [['ws-parcel', 'parcel_file', ['parcel', 'grounds']], ['ws-grounds', 'grounds_file', ['grounds', 'parcel']]]
      .forEach(function (spec) {
        var select = clear($(spec[0]));
        select.appendChild(el('option', { value: '', text: '(none)' }));
        files.filter(function (f) { return spec[2].indexOf(f.kind) >= 0; }).forEach(function (f) {
          select.appendChild(el('option', { value: f.id, text: f.name, selected: st[spec[1]] === f.id }));
        });
      });
    $('ws-campus-name').value = st.campus_name || S.ws.name || '';
    $('ws-address').value = st.address || '';
  }

  async function removeFile(f) {
    if (!confirm('Remove ' + f.name + ' from this workspace?')) { return; }
    try {
      await api('DELETE', base + '/files/' + enc(f.id));
      Object.keys(S.cards).forEach(function (id) {
        if (!drawingById(id) || drawingById(id).file_id === f.id) { delete S.cards[id]; }
      });
      await refresh();
    } catch (err) { toast(err.message, true); }
  }

  // =========================================================================================
  // Step 2: understand the drawing
  // =========================================================================================

  function statsText(st) {
    var parts = [];
    if (st.closed_outlines) { parts.push(st.closed_outlines + ' outlines'); }
    if (st.texts) { parts.push(st.texts + ' texts' + (st.number_texts ? ' (' + st.number_texts + ' numbers)' : '')); }
    if (st.inserts) { parts.push(st.inserts + ' symbols'); }
    if (st.lines) { parts.push(st.lines + ' lines'); }
    if (st.arcs) { parts.push(st.arcs + ' arcs'); }
    return parts.join(', ') || 'empty';
  }

  function roleOfLayer(id, layerName) {
    var layers = S.local[id].layers;
    for (var i = 0; i < ROLES.length; i++) {
      if (layers[ROLES[i].key] === layerName) { return ROLES[i]; }
    }
    return null;
  }

  function renderDrawings() {
    var box = $('ws-drawings');
    var ds = drawings();
    $('ws-no-drawings').hidden = ds.length > 0;
    Object.keys(S.cards).forEach(function (id) {
      if (!drawingById(id)) { S.cards[id].node.remove(); delete S.cards[id]; }
    });
    ds.forEach(function (d) {
      if (!S.cards[d.id]) {
        S.cards[d.id] = buildCard(d);
        box.appendChild(S.cards[d.id].node);
        loadPreview(d.id).then(function () { drawCardPreview(d.id); })
          .catch(function (err) { S.cards[d.id].mapNote.textContent = 'No preview: ' + err.message; });
      }
      updateCardState(d.id);
    });
  }

  function buildCard(d) {
    var id = d.id;
    var local = S.local[id];
    var prop = d.proposal || {};
    var reasons = prop.reasons || {};
    var layerStats = prop.layers || [];
    var card = { visible: {}, others: false, groups: {}, map: null };
    ROLES.forEach(function (r) { card.visible[r.key] = r.key !== 'walls' || !local.layers.rooms; });

    var rows = ROLES.map(function (r) {
      var select = el('select', { 'data-role': r.key, 'aria-label': r.label + ' layer' });
      select.appendChild(el('option', { value: '', text: '(none)' }));
      layerStats.forEach(function (st) {
        select.appendChild(el('option', { value: st.name, text: st.name + ' — ' + statsText(st),
                                          selected: local.layers[r.key] === st.name }));
      });
      if (local.layers[r.key] && !layerStats.some(function (st) { return st.name === local.layers[r.key]; })) {
        select.appendChild(el('option', { value: local.layers[r.key], text: local.layers[r.key] + ' (not in the file)', selected: true }));
      }
      select.addEventListener('change', function () {
        local.layers[r.key] = select.value || null;
        S.confirmed[id] = false;
        updateCardState(id);
        styleCardPreview(id);
      });
      var show = el('input', { type: 'checkbox', checked: card.visible[r.key],
                               'aria-label': 'Show ' + r.label });
      show.addEventListener('change', function () { card.visible[r.key] = show.checked; styleCardPreview(id); });
      var proposed = prop[r.key];
      var why = reasons[r.key] || (proposed ? '' : 'No layer looks like this.');
      return el('tr', { 'data-role': r.key }, [
        el('td', {}, [show]),
        el('td', {}, [el('span', { className: 'ws-swatch', style: 'background:' + r.colour })]),
        el('th', { scope: 'row' }, [r.label, r.hint ? el('small', { text: r.hint }) : null]),
        el('td', {}, [select]),
        el('td', { className: 'ws-why', text: why })
      ]);
    });
    var others = el('input', { type: 'checkbox' });
    others.addEventListener('change', function () { card.others = others.checked; styleCardPreview(id); });

    var unit = el('select', { 'aria-label': 'Drawing units' });
    if (!local.unit) {
      unit.appendChild(el('option', { value: '', text: '(choose the units)', selected: true }));
    }
    UNITS.forEach(function (u) {
      unit.appendChild(el('option', { value: u[0], text: u[1], selected: local.unit === u[0] }));
    });
    unit.addEventListener('change', function () { local.unit = unit.value; S.confirmed[id] = false; updateCardState(id); });

    function field(label, key, attrs) {
      var input = el('input', Object.assign({ value: local[key] }, attrs || {}));
      input.addEventListener('input', function () {
        local[key] = input.type === 'number' ? Number(input.value) : input.value;
        if (key === 'level_ordinal' && !card.levelNameTouched) {
          local.level_name = ordinalName(local[key]);
          local.level_short_name = local[key] >= 0 ? String(local[key] + 1) : 'B';
          card.levelName.value = local.level_name;
          card.levelShort.value = local.level_short_name;
        }
        if (key === 'level_name') { card.levelNameTouched = true; }
        S.confirmed[id] = false;
        updateCardState(id);
      });
      return { label: el('label', {}, [label, input]), input: input };
    }
    var fBuilding = field('Building letter or code', 'building_id', { maxlength: 20, required: true, 'data-field': 'building_id' });
    var fBuildingName = field('Building name', 'building_name', { maxlength: 200, placeholder: 'Main Building', 'data-field': 'building_name' });
    var fOrdinal = field('Floor (0 = ground floor)', 'level_ordinal', { type: 'number', min: -10, max: 200, step: 1, 'data-field': 'level_ordinal' });
    var fLevel = field('Floor name', 'level_name', { maxlength: 100, 'data-field': 'level_name' });
    var fShort = field('Short name', 'level_short_name', { maxlength: 10, 'data-field': 'level_short_name' });
    card.levelName = fLevel.input;
    card.levelShort = fShort.input;

    var confirmBtn = el('button', { type: 'button', className: 'ws-primary', 'data-action': 'confirm', text: 'Confirm layers' });
    var note = el('span', { className: 'ws-muted', role: 'status' });
    confirmBtn.addEventListener('click', async function () {
      if (!local.unit) {
        note.textContent = 'Say which units the drawing is in: it does not say, and gridmap could not tell.';
        note.className = 'ws-error';
        unit.focus();
        return;
      }
      confirmBtn.disabled = true;
      note.textContent = 'Saving…';
      note.className = 'ws-muted';
      try {
        await saveDrawing(id);
        S.confirmed[id] = true;
        note.textContent = 'Saved.';
        updateCardState(id);
        markSteps();
        renderGeorefChoice();
      } catch (err) {
        note.textContent = err.message;
        note.className = 'ws-error';
      } finally {
        confirmBtn.disabled = false;
      }
    });

    var mapNode = el('div', { className: 'ws-map ws-map-card', role: 'img', 'aria-label': 'Preview of ' + d.name });
    card.mapNote = el('p', { className: 'ws-muted ws-map-note' });
    card.pill = el('span', { className: 'ws-pill' });
    card.node = el('article', { className: 'ws-card ws-drawing', 'data-drawing': id }, [
      el('header', { className: 'ws-card-head' }, [
        el('h3', { text: d.name }),
        card.pill,
        d.has_geodata ? el('span', { className: 'ws-pill ws-pill-info', text: 'has its own placement (GEODATA)' }) : null
      ]),
      el('p', { className: 'ws-unitline' }, [
        'Drawn in ', unit, ' ',
        el('span', { className: 'ws-why', text: prop.unit_reason ? '— ' + prop.unit_reason : '' })
      ]),
      el('div', { className: 'ws-card-grid' }, [
        el('div', {}, [
          el('table', { className: 'ws-table ws-roles' }, [
            el('thead', {}, [el('tr', {}, [el('th', { text: 'Show' }), el('th'), el('th', { text: 'What' }),
                                            el('th', { text: 'Layer in the drawing' }), el('th', { text: 'Why gridmap thinks so' })])]),
            el('tbody', {}, rows)
          ]),
          el('label', { className: 'ws-inline' }, [others, ' Show the other layers (grey)'])
        ]),
        el('div', {}, [mapNode, card.mapNote])
      ]),
      el('div', { className: 'ws-form-grid ws-compact ws-where' },
         [fBuilding.label, fBuildingName.label, fOrdinal.label, fLevel.label, fShort.label]),
      el('div', { className: 'ws-actions' }, [confirmBtn, note])
    ]);
    card.mapNode = mapNode;
    return card;
  }

  function updateCardState(id) {
    var card = S.cards[id];
    if (!card) { return; }
    var ok = !!S.confirmed[id];
    card.pill.textContent = ok ? 'Confirmed' : 'To check';
    card.pill.className = 'ws-pill ' + (ok ? 'ws-pill-ok' : 'ws-pill-todo');
    card.node.dataset.confirmed = ok ? 'true' : 'false';
  }

  // one request per drawing, however many views ask for its preview at once
  var previewRequests = {};
  function loadPreview(id) {
    if (!previewRequests[id]) {
      previewRequests[id] = api('GET', base + '/drawings/' + enc(id) + '/preview.geojson')
        .then(function (fc) { S.previews[id] = fc; return fc; })
        .catch(function (err) { delete previewRequests[id]; throw err; });
    }
    return previewRequests[id];
  }

  function planLatLng(coords) { return L.latLng(coords[1], coords[0]); }

  function planMap(node) {
    // drawn on a canvas: a school's floor is thousands of lines, too many for one SVG element each
    var map = L.map(node, { crs: L.CRS.Simple, minZoom: -30, maxZoom: 12, zoomSnap: 0.25,
                            zoomDelta: 0.5, attributionControl: false, wheelPxPerZoomLevel: 90,
                            preferCanvas: true });
    map.setView([0, 0], 0);
    return map;
  }

  function groupByLayer(collection) {
    var byLayer = {};
    (collection.features || []).forEach(function (f) {
      var name = (f.properties && f.properties.layer) || '';
      (byLayer[name] = byLayer[name] || []).push(f);
    });
    return byLayer;
  }

  // Leaflet's divIcon sets innerHTML from its html option; text from a file goes in as text
  var TextIcon = L.DivIcon.extend({
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.textContent = this.options.textValue || '';
      div.style.color = this.options.colour || '#111';
      return div;
    }
  });

  function drawLayerGroups(map, collection, styleOf) {
    var groups = {};
    var byLayer = groupByLayer(collection);
    Object.keys(byLayer).forEach(function (name) {
      groups[name] = L.geoJSON({ type: 'FeatureCollection', features: byLayer[name] }, {
        coordsToLatLng: planLatLng,
        style: function () { return styleOf(name); },
        pointToLayer: function (f, latlng) {
          var s = styleOf(name);
          if (f.properties && f.properties.text && collection.features.length < 6000) {
            return L.marker(latlng, { icon: new TextIcon({ className: 'ws-plan-text', iconSize: null,
                                                           textValue: f.properties.text.split('\n')[0].slice(0, 24),
                                                           colour: s.color }),
                                      interactive: false, keyboard: false });
          }
          return L.circleMarker(latlng, { radius: 3, color: s.color, weight: 1, fillOpacity: 0.8,
                                          interactive: false });
        },
        interactive: false
      });
    });
    return groups;
  }

  function drawCardPreview(id) {
    var card = S.cards[id];
    var preview = S.previews[id];
    if (!card || !preview) { return; }
    if (!card.map) { card.map = planMap(card.mapNode); }
    card.groups = drawLayerGroups(card.map, preview, function (name) { return cardStyle(id, name); });
    styleCardPreview(id);
    var d = drawingById(id);
    var b = d && d.bounds;
    if (b && isFinite(b[0])) {
      card.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [8, 8] });
    } else {
      var all = L.featureGroup(Object.keys(card.groups).map(function (k) { return card.groups[k]; }));
      if (all.getLayers().length) { card.map.fitBounds(all.getBounds(), { padding: [8, 8] }); }
    }
    if (preview.truncated) {
      card.mapNote.textContent = 'The preview shows the first ' + preview.features.length +
        ' shapes of this large drawing; the import reads all of them.';
    }
    card.node.dataset.preview = 'drawn';
  }

  function cardStyle(id, name) {
    var role = roleOfLayer(id, name);
    var colour = role ? role.colour : OTHER_COLOUR;
    var fill = role && role.key === 'rooms';
    return { color: colour, weight: role ? (role.key === 'outline' ? 2.5 : 1.4) : 0.8,
             fill: fill, fillColor: colour, fillOpacity: fill ? 0.08 : 0, opacity: role ? 1 : 0.7 };
  }

  function styleCardPreview(id) {
    var card = S.cards[id];
    if (!card || !card.map) { return; }
    Object.keys(card.groups).forEach(function (name) {
      var role = roleOfLayer(id, name);
      var show = role ? card.visible[role.key] : card.others;
      var group = card.groups[name];
      group.setStyle(cardStyle(id, name));
      group.eachLayer(function (layer) {
        if (layer.getElement && layer instanceof L.Marker && layer.getElement()) {
          layer.getElement().style.color = cardStyle(id, name).color;
        }
      });
      if (show && !card.map.hasLayer(group)) { group.addTo(card.map); }
      if (!show && card.map.hasLayer(group)) { card.map.removeLayer(group); }
    });
  }

  // =========================================================================================
  // Step 3: georeference by clicking
  // =========================================================================================

  var geo = { plan: null, earth: null, planLayer: null, planMarkers: null, earthMarkers: null,
              pendingMarker: null, overlay: null, earthLayers: null, earthBounds: null };

  function setupGeoref() {
    geo.plan = planMap($('ws-plan'));
    geo.earth = L.map('ws-earth', { minZoom: 2, maxZoom: cfg.zoom.max, attributionControl: false,
                                    zoomSnap: 0.5 });
    geo.earth.setView([20, 0], 2);
    geo.planMarkers = L.layerGroup().addTo(geo.plan);
    geo.earthMarkers = L.layerGroup().addTo(geo.earth);
    geo.earthLayers = L.layerGroup().addTo(geo.earth);
    L.control.scale({ position: 'bottomleft', metric: true, imperial: false }).addTo(geo.earth);
    geo.plan.on('click', function (ev) { addHalf('cad', [ev.latlng.lng, ev.latlng.lat]); });
    geo.earth.on('click', function (ev) { addHalf('lonlat', [ev.latlng.lng, ev.latlng.lat]); });
    $('ws-geo-drawing').addEventListener('change', function () { chooseGeoDrawing($('ws-geo-drawing').value); });
    Array.prototype.forEach.call(document.querySelectorAll('input[name="ws-transform"]'), function (r) {
      r.addEventListener('change', function () {
        var l = S.local[S.geo.drawing];
        if (l && r.checked) { l.transform = r.value; runFit(); }
      });
    });
    $('ws-clear-pairs').addEventListener('click', function () {
      var l = S.local[S.geo.drawing];
      if (!l || !l.pairs.length || !confirm('Remove every point pair of this drawing?')) { return; }
      l.pairs = [];
      S.geo.pending = null;
      drawPairs();
      runFit();
    });
    $('ws-save-georef').addEventListener('click', async function () {
      var id = S.geo.drawing;
      if (!id) { return; }
      S.local[id].use_geodata = false;
      $('ws-georef-status').textContent = 'Saving…';
      try {
        await saveDrawing(id);
        $('ws-georef-status').textContent = 'Placement saved.';
        document.body.dataset.georefSaved = id;
        markSteps();
      } catch (err) {
        $('ws-georef-status').textContent = err.message;
      }
    });
    $('ws-geodata').addEventListener('click', async function () {
      var id = S.geo.drawing;
      if (!id) { return; }
      S.local[id].use_geodata = true;
      $('ws-georef-status').textContent = 'Saving…';
      try {
        await saveDrawing(id);
        $('ws-georef-status').textContent = 'This drawing will be placed by its own GEODATA.';
        markSteps();
      } catch (err) {
        S.local[id].use_geodata = false;
        $('ws-georef-status').textContent = err.message;
      }
    });
    $('ws-overlay').addEventListener('change', drawOverlay);
    $('ws-drag-place').addEventListener('click', placeByDragging);
    $('ws-copy-pairs').addEventListener('click', function () {
      var from = S.local[$('ws-copy-from').value];
      var l = S.local[S.geo.drawing];
      if (!from || !l) { return; }
      l.pairs = from.pairs.map(function (p) { return { name: p.name, cad: p.cad.slice(), lonlat: p.lonlat.slice() }; });
      l.nextName = l.pairs.length + 1;
      l.transform = from.transform;
      l.use_geodata = false;
      drawPairs();
      runFit();
    });
  }

  // the pairs of another drawing of the same building are offered: floors of one building
  // are usually drawn in one frame, so its points place them all
  function renderCopyChoice() {
    var id = S.geo.drawing;
    var select = clear($('ws-copy-from'));
    var l = id ? S.local[id] : null;
    drawings().forEach(function (d) {
      var other = S.local[d.id];
      if (d.id !== id && other && other.pairs.length >= 2) {
        var same = l && other.building_id === l.building_id;
        select.appendChild(el('option', { value: d.id, selected: same,
                                          text: d.name + ' (' + other.pairs.length + ' pairs)' }));
      }
    });
    $('ws-copy').hidden = select.options.length === 0;
    $('ws-drag-place').hidden = !l || l.pairs.length >= 2;
  }

  function renderGeorefChoice() {
    var select = $('ws-geo-drawing');
    var ds = drawings();
    var current = S.geo.drawing && drawingById(S.geo.drawing) ? S.geo.drawing : (ds[0] && ds[0].id);
    clear(select);
    ds.forEach(function (d) {
      var l = S.local[d.id];
      var where = l.building_id ? ' — building ' + l.building_id + ', ' + l.level_name : '';
      select.appendChild(el('option', { value: d.id, text: d.name + where, selected: d.id === current }));
    });
    if (current && current !== S.geo.drawing) { chooseGeoDrawing(current); }
    if (!ds.length) { $('ws-geo-hint').textContent = 'Upload a drawing first.'; }
    loadEarthLayers();
  }

  function chooseGeoDrawing(id) {
    S.geo.drawing = id;
    S.geo.pending = null;
    S.geo.fit = null;
    var d = drawingById(id);
    var l = S.local[id];
    $('ws-geodata').hidden = !(d && d.has_geodata);
    Array.prototype.forEach.call(document.querySelectorAll('input[name="ws-transform"]'), function (r) {
      r.checked = r.value === l.transform;
    });
    if (geo.planLayer) { geo.plan.removeLayer(geo.planLayer); geo.planLayer = null; }
    $('ws-plan').dataset.ready = 'false';
    loadPreview(id).then(function (preview) {
      if (S.geo.drawing !== id) { return; }
      var groups = drawLayerGroups(geo.plan, preview, function (name) {
        var role = roleOfLayer(id, name);
        return { color: role ? role.colour : OTHER_COLOUR, weight: role && role.key === 'outline' ? 2.5 : 1,
                 fill: false, opacity: role ? 0.9 : 0.45 };
      });
      geo.planLayer = L.featureGroup(Object.keys(groups).filter(function (name) {
        var role = roleOfLayer(id, name);
        return !role || role.key !== 'labels' || preview.features.length < 4000;
      }).map(function (k) { return groups[k]; })).addTo(geo.plan);
      var b = d.bounds;
      if (b && isFinite(b[0])) { geo.plan.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [10, 10] }); }
      else if (geo.planLayer.getLayers().length) { geo.plan.fitBounds(geo.planLayer.getBounds()); }
      $('ws-plan').dataset.ready = 'true';
      $('ws-plan').dataset.drawing = id;
      drawOverlay();
    }).catch(function (err) { $('ws-geo-hint').textContent = 'No plan preview: ' + err.message; });
    drawPairs();
    runFit();
  }

  async function loadEarthLayers() {
    if (!geo.earth || !S.ws) { return; }
    geo.earthLayers.clearLayers();
    var cid = S.ws.campus_id;
    var bounds = L.latLngBounds([]);
    // what is under the site: the campus's own photo, else the server's provider (the page
    // says which); the published plans of this campus when it has some
    if (cid && S.campus.published === null) { await campusStatus(); }
    var imagery = S.campus.imagery;
    $('ws-no-photo').hidden = !!imagery;
    if (imagery) {
      geo.earthLayers.addLayer(L.tileLayer(imagery.url, {
        maxZoom: cfg.zoom.max, maxNativeZoom: cfg.zoom.max_native, className: 'ws-imagery' }));
    }
    if (S.campus.published && S.campus.groundOrdinal !== null && S.campus.groundOrdinal !== undefined) {
      // the published map's lowest floor, for the same corners to click on
      geo.earthLayers.addLayer(L.tileLayer('/campuses/' + enc(cid) + '/levels/' + S.campus.groundOrdinal +
                                           '/tiles/{z}/{x}/{y}{r}.png?v=' + S.campus.current, {
        maxZoom: cfg.zoom.max, maxNativeZoom: cfg.zoom.max_native, opacity: 0.55, minZoom: 15 }));
    }
    var st = S.ws.settings || {};
    var site = (S.ws.files || []).filter(function (f) {
      return !f.error && (f.kind === 'parcel' || f.kind === 'grounds');
    });
    await Promise.all(site.map(async function (f) {
      try {
        var fc = await api('GET', base + '/files/' + enc(f.id) + '/features.geojson');
        var isParcel = f.kind === 'parcel' || st.parcel_file === f.id;
        var layer = L.geoJSON(fc, {
          style: function () {
            return isParcel ? { color: '#1d1d1f', weight: 2, dashArray: '6 4', fill: false }
                            : { color: '#4a7c3a', weight: 1.2, fillColor: '#9bc58a', fillOpacity: 0.35 };
          },
          pointToLayer: function (feat, latlng) {
            return L.circleMarker(latlng, { radius: 4, color: '#4a7c3a', weight: 1, fillOpacity: 0.7 });
          },
          interactive: false
        });
        geo.earthLayers.addLayer(layer);
        if (layer.getLayers().length) { bounds.extend(layer.getBounds()); }
      } catch (err) { /* a file the server could not read: its error is in the file list */ }
    }));
    var pts = allEarthPairs();
    pts.forEach(function (p) { bounds.extend([p[1], p[0]]); });
    if (bounds.isValid()) {
      geo.earthBounds = bounds;
      geo.earth.fitBounds(bounds, { padding: [16, 16], maxZoom: 19 });
      $('ws-earth').dataset.ready = 'true';
      $('ws-geo-hint').textContent = S.geo.pending ? $('ws-geo-hint').textContent
        : 'Click a point on the plan, then the same point on the site map.';
    } else if (S.campus.bounds) {
      var bb = S.campus.bounds;
      geo.earth.fitBounds([[bb[1], bb[0]], [bb[3], bb[2]]]);
      $('ws-earth').dataset.ready = 'true';
    } else {
      $('ws-geo-hint').textContent = 'Upload the site boundary (parcel) or grounds file, so the site map has something to click on.';
    }
  }

  // whether the campus is published (and which revision), from the campuses this editor sees
  async function campusStatus() {
    try {
      var listed = await api('GET', '/campuses');
      var mine = (listed.campuses || []).find(function (c) { return c.id === S.ws.campus_id; });
      S.campus.published = !!mine;
      S.campus.current = mine ? mine.revision : null;
      S.campus.bounds = mine ? mine.bounds : null;
      if (mine && S.campus.groundOrdinal === undefined) {
        var detail = await api('GET', '/campuses/' + enc(S.ws.campus_id));
        var ords = (detail.levels || []).map(function (lv) { return lv.ordinal; });
        S.campus.groundOrdinal = ords.indexOf(0) >= 0 ? 0 : (ords.length ? ords[0] : null);
      }
    } catch (err) {
      S.campus.published = false;
    }
    return S.campus;
  }

  function allEarthPairs() {
    var out = [];
    Object.keys(S.local).forEach(function (id) {
      S.local[id].pairs.forEach(function (p) { out.push(p.lonlat); });
    });
    return out;
  }

  function numberIcon(n, cls) {
    return new TextIcon({ className: 'ws-pin ' + (cls || ''), iconSize: [24, 24], iconAnchor: [12, 12],
                          textValue: String(n) });
  }

  function addHalf(side, xy) {
    var id = S.geo.drawing;
    if (!id || S.placing || geo.suppressClick) { return; }
    var l = S.local[id];
    var pending = S.geo.pending;
    if (!pending || pending.side === side) {
      S.geo.pending = { side: side, xy: xy };
      $('ws-geo-hint').textContent = side === 'cad'
        ? 'Now click the same point on the site map (right).'
        : 'Now click the same point on the plan (left).';
      drawPairs();
      return;
    }
    var pair = { name: 'Point ' + l.nextName, cad: side === 'cad' ? xy : pending.xy,
                 lonlat: side === 'lonlat' ? xy : pending.xy };
    l.nextName += 1;
    l.pairs.push(pair);
    l.use_geodata = false;
    S.geo.pending = null;
    $('ws-geo-hint').textContent = l.pairs.length < 2
      ? 'One pair. Click a second point on the plan, far from the first.'
      : l.pairs.length < 3
        ? 'Add a pair or two more, spread around the building, to check the placement.'
        : 'Check the numbers below: delete a pair that is far off and click it again.';
    drawPairs();
    runFit();
  }

  function drawPairs() {
    var id = S.geo.drawing;
    geo.planMarkers.clearLayers();
    geo.earthMarkers.clearLayers();
    if (!id) { return; }
    var l = S.local[id];
    var fit = S.geo.fit;
    l.pairs.forEach(function (p, i) {
      var res = fit && fit.points && fit.points[i] ? fit.points[i].residual_m : null;
      var cls = 'ws-pin-' + quality(res);
      var title = p.name + (res === null ? '' : ': off by ' + metres(res));
      // a pair's point is dragged to fine-tune it, on either map; the fit follows on release
      var onPlan = L.marker(planLatLng(p.cad), { icon: numberIcon(i + 1, cls), title: title,
                                                 keyboard: false, draggable: true });
      onPlan.on('drag', function (ev) { p.cad = [ev.latlng.lng, ev.latlng.lat]; scheduleOverlay(); });
      onPlan.on('dragend', function () { drawPairs(); runFit(); });
      onPlan.addTo(geo.planMarkers);
      var onEarth = L.marker([p.lonlat[1], p.lonlat[0]], { icon: numberIcon(i + 1, cls), title: title,
                                                            keyboard: false, draggable: true });
      onEarth.on('drag', function (ev) { p.lonlat = [ev.latlng.lng, ev.latlng.lat]; scheduleOverlay(); });
      onEarth.on('dragend', function () { drawPairs(); runFit(); });
      onEarth.addTo(geo.earthMarkers);
    });
    var pending = S.geo.pending;
    if (pending) {
      var latlng = pending.side === 'cad' ? planLatLng(pending.xy) : L.latLng(pending.xy[1], pending.xy[0]);
      L.marker(latlng, { icon: numberIcon(l.pairs.length + 1, 'ws-pin-pending'), keyboard: false })
        .addTo(pending.side === 'cad' ? geo.planMarkers : geo.earthMarkers);
    }
    renderPairsTable();
  }

  function renderPairsTable() {
    var id = S.geo.drawing;
    var body = clear($('ws-pairs').tBodies[0]);
    if (!id) { return; }
    var l = S.local[id];
    var fit = S.geo.fit;
    var unitName = (UNITS.find(function (u) { return u[0] === l.unit; }) || ['', ''])[0];
    l.pairs.forEach(function (p, i) {
      var pt = fit && fit.points ? fit.points[i] : null;
      var res = pt ? pt.residual_m : null;
      var name = el('input', { value: p.name, maxlength: 60, 'aria-label': 'Name of pair ' + (i + 1) });
      name.addEventListener('change', function () { p.name = name.value || 'Point ' + (i + 1); });
      body.appendChild(el('tr', { 'data-pair': i, className: fit && fit.outlier === p.name ? 'ws-outlier' : '' }, [
        el('td', {}, [el('span', { className: 'ws-pin ws-pin-inline ws-pin-' + quality(res), text: String(i + 1) })]),
        el('td', {}, [name]),
        el('td', { className: 'ws-num-cell' }, [coordInput(p, 'cad', 2, 'Plan x, y of pair ' + (i + 1)),
                                                 ' ' + unitName]),
        el('td', { className: 'ws-num-cell' }, [coordInput(p, 'lonlat', 7, 'Longitude, latitude of pair ' + (i + 1))]),
        el('td', { className: 'ws-num-cell ws-res ws-res-' + quality(res), 'data-residual': res === null ? '' : res, text: metres(res) }),
        el('td', { className: 'ws-num-cell', text: pt && pt.leave_one_out_m !== null && pt.leave_one_out_m !== undefined ? metres(pt.leave_one_out_m) : '—' }),
        el('td', {}, [el('button', { type: 'button', className: 'ws-quiet', text: 'Delete',
                                     'aria-label': 'Delete pair ' + (i + 1),
                                     onclick: function () { deletePair(i); } })])
      ]));
    });
    var affine = document.querySelector('input[name="ws-transform"][value="affine"]');
    affine.disabled = l.pairs.length < 3;
    affine.parentNode.title = l.pairs.length < 3 ? 'Needs three pairs or more' : 'Also allow stretching and shearing';
    $('ws-save-georef').disabled = l.pairs.length < 2;
    renderCopyChoice();
  }

  // a point typed rather than clicked (surveyed plan coordinates, a GPS reading)
  function coordInput(pair, key, digits, label) {
    var text = function () { return pair[key][0].toFixed(digits) + ', ' + pair[key][1].toFixed(digits); };
    var input = el('input', { value: text(), className: 'ws-coord', 'aria-label': label,
                              'data-coord': key, spellcheck: 'false' });
    input.addEventListener('change', function () {
      var parts = input.value.split(/[,;\s]+/).filter(Boolean).map(Number);
      if (parts.length !== 2 || !parts.every(isFinite) ||
          (key === 'lonlat' && (Math.abs(parts[0]) > 180 || Math.abs(parts[1]) > 90))) {
        toast('Type two numbers: ' + (key === 'lonlat' ? 'longitude, latitude' : 'x, y') + '.', true);
        input.value = text();
        return;
      }
      pair[key] = parts;
      S.local[S.geo.drawing].use_geodata = false;
      drawPairs();
      runFit();
    });
    return input;
  }

  function deletePair(i) {
    var l = S.local[S.geo.drawing];
    l.pairs.splice(i, 1);
    S.geo.fit = null;
    drawPairs();
    runFit();
  }

  async function runFit() {
    var id = S.geo.drawing;
    var seq = ++S.geo.fitSeq;
    var l = id ? S.local[id] : null;
    var advice = clear($('ws-advice'));
    if (!l || l.pairs.length < 2) {
      S.geo.fit = null;
      $('ws-rms').textContent = '';
      renderPairsTable();
      drawOverlay();
      document.body.dataset.fitPairs = String(l ? l.pairs.length : 0);
      document.body.dataset.fitSeq = String(seq);
      return;
    }
    var transform = l.pairs.length >= 3 ? l.transform : 'similarity';
    try {
      var fit = await api('POST', base + '/fit', {
        control_points: l.pairs.map(function (p) { return { name: p.name, cad: p.cad, lonlat: p.lonlat }; }),
        transform: transform, unit: l.unit || null });
      if (seq !== S.geo.fitSeq) { return; }
      S.geo.fit = fit;
      $('ws-rms').textContent = 'Overall: ' + metres(fit.rms_m) + ' (RMS)';
      $('ws-rms').className = 'ws-rms ws-res-' + quality(fit.rms_m);
      (fit.advice || []).forEach(function (line) {
        advice.appendChild(el('li', { className: fit.ok ? 'ws-advice-info' : 'ws-advice-warn', text: line }));
      });
      if (!(fit.advice || []).length) {
        advice.appendChild(el('li', { className: 'ws-advice-ok', text: 'The points agree.' }));
      }
      // what the import will say of this placement (the same rule it applies)
      if (fit.import_accepts === true) {
        advice.appendChild(el('li', { className: 'ws-advice-ok', 'data-verdict': 'accepts',
                                      text: 'The import will accept this placement.' }));
      } else if (fit.import_accepts === false) {
        var why = (fit.import_findings || []).filter(function (f) { return f.severity === 'error'; })
          .map(function (f) { return f.message; });
        advice.appendChild(el('li', { className: 'ws-advice-warn', 'data-verdict': 'refuses',
                                      text: 'The import would refuse this placement' +
                                        (why.length ? ': ' + why.join(' ') : '.') }));
      }
    } catch (err) {
      if (seq !== S.geo.fitSeq) { return; }
      S.geo.fit = null;
      $('ws-rms').textContent = '';
      advice.appendChild(el('li', { className: 'ws-advice-warn', text: err.message }));
    }
    drawPairs();
    drawOverlay();
    document.body.dataset.fitPairs = String(l.pairs.length);
    document.body.dataset.fitSeq = String(seq);  // this fit is drawn (tests wait on it)
  }

  // the plan drawn over the site as the pairs place it (a local least-squares fit, for the eye)
  function localFit(pairs, kind) {
    var n = pairs.length;
    var lon0 = 0, lat0 = 0;
    pairs.forEach(function (p) { lon0 += p.lonlat[0] / n; lat0 += p.lonlat[1] / n; });
    var kx = 111320 * Math.cos(lat0 * Math.PI / 180), ky = 110574;
    var xs = pairs.map(function (p) { return p.cad[0]; }), ys = pairs.map(function (p) { return p.cad[1]; });
    var es = pairs.map(function (p) { return (p.lonlat[0] - lon0) * kx; });
    var ns = pairs.map(function (p) { return (p.lonlat[1] - lat0) * ky; });
    var mean = function (a) { return a.reduce(function (s, v) { return s + v; }, 0) / a.length; };
    var xm = mean(xs), ym = mean(ys), em = mean(es), nm = mean(ns);
    var f;
    if (kind === 'affine' && n >= 3) {
      var sxx = 0, sxy = 0, syy = 0, sxe = 0, sye = 0, sxn = 0, syn = 0;
      for (var i = 0; i < n; i++) {
        var dx = xs[i] - xm, dy = ys[i] - ym, de = es[i] - em, dn = ns[i] - nm;
        sxx += dx * dx; sxy += dx * dy; syy += dy * dy; sxe += dx * de; sye += dy * de; sxn += dx * dn; syn += dy * dn;
      }
      var det = sxx * syy - sxy * sxy;
      if (Math.abs(det) < 1e-12) { return null; }
      var a = (sxe * syy - sye * sxy) / det, b = (sye * sxx - sxe * sxy) / det;
      var c = (sxn * syy - syn * sxy) / det, d = (syn * sxx - sxn * sxy) / det;
      f = function (x, y) { return [em + a * (x - xm) + b * (y - ym), nm + c * (x - xm) + d * (y - ym)]; };
    } else {
      var num1 = 0, num2 = 0, den = 0;
      for (var j = 0; j < n; j++) {
        var ddx = xs[j] - xm, ddy = ys[j] - ym, dde = es[j] - em, ddn = ns[j] - nm;
        num1 += ddx * dde + ddy * ddn; num2 += ddx * ddn - ddy * dde; den += ddx * ddx + ddy * ddy;
      }
      if (den < 1e-12) { return null; }
      var sa = num1 / den, sb = num2 / den;
      f = function (x, y) { return [em + sa * (x - xm) - sb * (y - ym), nm + sb * (x - xm) + sa * (y - ym)]; };
    }
    return function (coords) {
      var en = f(coords[0], coords[1]);
      return L.latLng(lat0 + en[1] / ky, lon0 + en[0] / kx);
    };
  }

  function drawOverlay() {
    if (geo.overlay) { geo.earth.removeLayer(geo.overlay); geo.overlay = null; }
    var id = S.geo.drawing;
    var preview = id && S.previews[id];
    var l = id && S.local[id];
    if (!preview || !l || l.pairs.length < 2 || !$('ws-overlay').checked) { return; }
    var toLatLng = localFit(l.pairs, l.pairs.length >= 3 ? l.transform : 'similarity');
    if (!toLatLng) { return; }
    var keep = {};
    ['rooms', 'outline'].forEach(function (k) { if (l.layers[k]) { keep[l.layers[k]] = k; } });
    var feats = preview.features.filter(function (f) {
      return f.properties && keep[f.properties.layer] && f.geometry && f.geometry.type !== 'Point';
    });
    geo.overlay = L.geoJSON({ type: 'FeatureCollection', features: feats }, {
      coordsToLatLng: toLatLng,
      style: function (f) {
        var outline = keep[f.properties.layer] === 'outline';
        return { color: outline ? '#7b2cbf' : '#1f6feb', weight: outline ? 2.5 : 1, fill: !outline,
                 fillOpacity: 0.08, opacity: 0.9, className: 'ws-overlay-path' };
      }
    }).addTo(geo.earth);
    geo.overlay.on('mousedown', startOverlayDrag);
  }

  var overlayFrame = null;
  function scheduleOverlay() {
    if (overlayFrame === null) {
      overlayFrame = requestAnimationFrame(function () { overlayFrame = null; drawOverlay(); });
    }
  }

  // dragging the placed plan moves every pair's site point with it (the pairs stay the record
  // of the placement, as if clicked there)
  function startOverlayDrag(ev) {
    if (ev.originalEvent.button !== 0 || !S.geo.drawing) { return; }
    var l = S.local[S.geo.drawing];
    var start = ev.latlng;
    var from = l.pairs.map(function (p) { return p.lonlat.slice(); });
    var moved = false;
    geo.earth.dragging.disable();
    L.DomEvent.stop(ev.originalEvent);
    function move(e) {
      var dlon = e.latlng.lng - start.lng, dlat = e.latlng.lat - start.lat;
      l.pairs.forEach(function (p, i) { p.lonlat = [from[i][0] + dlon, from[i][1] + dlat]; });
      moved = true;
      scheduleOverlay();
      geo.earthMarkers.eachLayer(function (m) { if (m.options.draggable) { m.remove(); } });
    }
    function up() {
      geo.earth.off('mousemove', move);
      geo.earth.dragging.enable();
      if (moved) {
        geo.suppressClick = true;
        setTimeout(function () { geo.suppressClick = false; }, 0);
        l.use_geodata = false;
        drawPairs();
        runFit();
      }
    }
    geo.earth.on('mousemove', move);
    geo.earth.once('mouseup', up);
  }

  // no pairs yet: put the plan in the middle of the site map at its drawn size, to be dragged,
  // turned and scaled into place (two pairs at its corners record where it went)
  function placeByDragging() {
    var id = S.geo.drawing;
    var d = drawingById(id);
    var l = S.local[id];
    // the building's extent: its outline (else its rooms), not the sheet's title block
    var b = null;
    var preview = S.previews[id];
    ['outline', 'rooms'].forEach(function (role) {
      if (b || !l.layers[role] || !preview) { return; }
      var feats = preview.features.filter(function (f) {
        return f.properties && f.properties.layer === l.layers[role] && f.geometry && f.geometry.type !== 'Point';
      });
      if (feats.length) {
        var box = L.geoJSON({ type: 'FeatureCollection', features: feats }, { coordsToLatLng: planLatLng }).getBounds();
        b = [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()];
      }
    });
    if (!b) { b = d && d.bounds && isFinite(d.bounds[0]) ? d.bounds : null; }
    if (!b) { return; }
    var c = geo.earth.getCenter();
    var unit = UNIT_METRES[l.unit] || 1;
    var kx = 111320 * Math.cos(c.lat * Math.PI / 180), ky = 110574;
    var w = (b[2] - b[0]) * unit, h = (b[3] - b[1]) * unit;
    l.pairs = [
      { name: 'Plan corner 1', cad: [b[0], b[1]], lonlat: [c.lng - w / 2 / kx, c.lat - h / 2 / ky] },
      { name: 'Plan corner 2', cad: [b[2], b[3]], lonlat: [c.lng + w / 2 / kx, c.lat + h / 2 / ky] }
    ];
    l.nextName = 3;
    l.use_geodata = false;
    S.geo.pending = null;
    $('ws-overlay').checked = true;
    $('ws-geo-hint').textContent = 'Drag the plan to move it; drag point 2 to turn and scale it.';
    drawPairs();
    runFit();
  }

  // =========================================================================================
  // Step 4: import with progress, then the report
  // =========================================================================================

  var polling = null;

  function setupImport() {
    $('ws-import').addEventListener('click', async function () {
      $('ws-import-error').textContent = '';
      var unconfirmed = drawings().filter(function (d) { return !S.confirmed[d.id]; });
      if (unconfirmed.length && !confirm(unconfirmed.length + ' drawing(s) are not confirmed yet. Import anyway?')) { return; }
      $('ws-import').disabled = true;
      try {
        var started = await api('POST', base + '/import', {});
        var job = started.job || started;
        showProgress(job);
        pollJob();
      } catch (err) {
        $('ws-import').disabled = false;
        $('ws-import-error').textContent = err.message;
      }
    });
  }

  function showProgress(job) {
    var box = $('ws-import-progress');
    box.hidden = false;
    var pct = Math.max(0, Math.min(100, job.percent || 0));
    box.querySelector('.ws-bar span').style.width = pct + '%';
    box.querySelector('.ws-progress-text').textContent = pct + '% · ' + (job.message || job.state || '');
    box.dataset.state = job.state || '';
  }

  // the workspace carries its import job (percent, message) and, once done, the report
  function pollJob() {
    clearTimeout(polling);
    var tick = async function () {
      var w;
      try {
        w = await api('GET', base);
      } catch (err) {
        $('ws-import-error').textContent = err.message;
        $('ws-import').disabled = false;
        return;
      }
      var job = w.job || { state: 'queued', percent: 0 };
      showProgress(job);
      if (job.state === 'done') {
        $('ws-import').disabled = false;
        $('ws-import-progress').hidden = true;
        S.features = null;
        await refresh();
        toast('Imported. Check the report, fix what needs fixing, then publish.');
        return;
      }
      if (job.state === 'failed' || job.state === 'cancelled' || w.state === 'failed') {
        $('ws-import').disabled = false;
        var error = job.error && job.error.message ? job.error.message : job.error;
        $('ws-import-error').textContent = 'The import stopped: ' + (error || job.message || job.state);
        document.body.dataset.importFailed = 'true';
        return;
      }
      polling = setTimeout(tick, 400);
    };
    polling = setTimeout(tick, 250);
  }

  async function renderImportState() {
    var w = S.ws;
    if (w.job && (w.job.state === 'queued' || w.job.state === 'running')) {
      $('ws-import').disabled = true;
      showProgress(w.job);
      pollJob();
    }
    if (w.job && w.job.state === 'failed') {  // the last import's failure, after a reload too
      var failure = w.job.error && w.job.error.message ? w.job.error.message : w.job.error;
      $('ws-import-error').textContent = 'The last import stopped: ' + (failure || w.job.message || 'failed');
    }
    var report = w.report;
    if (!report && w.draft_revision) {
      try { report = await api('GET', base + '/report'); } catch (err) { report = null; }
    }
    S.report = report;
    if (report && report.revision && !w.draft_revision) { w.draft_revision = report.revision; }
    $('ws-report').hidden = !report;
    $('ws-import').textContent = w.draft_revision ? 'Import again' : 'Import';
    if (!report) { return; }
    renderReport(report);
    await loadFeatures();
    renderFix();
    await renderPublish();
    document.body.dataset.reportShown = String(S.featuresRevision);  // all drawn (tests wait on it)
  }

  var KIND_TITLES = {
    room_without_label: 'Rooms without a number',
    label_outside_rooms: 'Numbers or names outside every room',
    duplicate_number: 'Room numbers used twice',
    room_outside_footprint: 'Rooms outside the building outline',
    missing_layer: 'Layers that are missing',
    repaired_geometry: 'Shapes gridmap repaired',
    units: 'Units of measure',
    georeference: 'Placement on the map',
    recovered_file: 'Damaged file, recovered',
    unsupported: 'Things gridmap does not read',
    other: 'Other notes'
  };
  var COUNT_TITLES = { buildings: 'buildings', levels: 'floors', units: 'rooms', rooms: 'rooms',
                       label_only_rooms: 'rooms drawn only as a number', openings: 'doors',
                       doors: 'doors', exterior_doors: 'outside doors', numbered_doors: 'numbered doors',
                       main_entrances: 'main entrances', amenities: 'safety points',
                       points: 'safety points', grounds: 'grounds features', findings: 'findings' };

  function renderReport(report) {
    var findings = report.findings || [];
    var bad = findings.filter(function (f) { return f.severity === 'error'; }).length;
    var warn = findings.filter(function (f) { return f.severity === 'warning'; }).length;
    $('ws-report-line').textContent = 'Draft revision ' + report.revision + ': ' +
      (findings.length ? findings.length + ' things to look at' +
        (bad ? ' (' + bad + ' must be fixed)' : warn ? ' (' + warn + ' warnings)' : '') : 'nothing to look at') + '.';
    var counts = clear($('ws-counts'));
    Object.keys(report.counts || {}).forEach(function (k) {
      var v = report.counts[k];
      if (typeof v !== 'number') { return; }
      counts.appendChild(el('div', { className: 'ws-count', 'data-count': k }, [
        el('strong', { text: String(v) }), el('span', { text: COUNT_TITLES[k] || k.replace(/_/g, ' ') })]));
    });
    var box = clear($('ws-findings'));
    if (!findings.length) {
      box.appendChild(el('p', { className: 'ws-advice-ok', text: 'gridmap found nothing to look at.' }));
    }
    var byKind = {};
    findings.forEach(function (f, i) { (byKind[f.kind] = byKind[f.kind] || []).push([f, i]); });
    var order = { error: 0, warning: 1, info: 2 };
    Object.keys(byKind).sort(function (a, b) {
      var sa = Math.min.apply(null, byKind[a].map(function (x) { return order[x[0].severity] || 1; }));
      var sb = Math.min.apply(null, byKind[b].map(function (x) { return order[x[0].severity] || 1; }));
      return sa - sb || a.localeCompare(b);
    }).forEach(function (kind) {
      var list = el('ul', {});
      byKind[kind].forEach(function (pair) {
        var f = pair[0];
        var where = [f.building ? 'building ' + f.building : '', f.level, f.source].filter(Boolean).join(' · ');
        var item = el('button', { type: 'button', className: 'ws-finding ws-sev-' + f.severity,
                                  'data-finding': pair[1], disabled: !f.at,
                                  title: f.at ? 'Show on the map' : 'Not a place on the map',
                                  onclick: function () { showFinding(f, item); } }, [
          el('span', { className: 'ws-sev', text: f.severity }),
          el('span', { className: 'ws-finding-msg', text: f.message }),
          f.action ? el('span', { className: 'ws-finding-action', text: 'gridmap: ' + f.action }) : null,
          where ? el('span', { className: 'ws-finding-where', text: where }) : null
        ]);
        list.appendChild(el('li', {}, [item]));
      });
      box.appendChild(el('details', { open: true, className: 'ws-kind', 'data-kind': kind }, [
        el('summary', {}, [KIND_TITLES[kind] || kind.replace(/_/g, ' '),
                           el('span', { className: 'ws-badge', text: String(byKind[kind].length) })]),
        list]));
    });
  }

  // --- the draft on a map -------------------------------------------------------------------

  var pv = { map: null, base: null, levelLayer: null, highlight: null, unitLayers: {}, doorLayers: {} };

  function previewMap() {
    if (pv.map) { return pv.map; }
    pv.map = L.map('ws-preview', { maxZoom: cfg.zoom.max, attributionControl: false, zoomSnap: 0.5 });
    pv.map.setView([20, 0], 2);
    L.control.scale({ position: 'bottomleft', metric: true, imperial: true }).addTo(pv.map);
    pv.base = L.layerGroup().addTo(pv.map);
    pv.levelLayer = L.layerGroup().addTo(pv.map);
    pv.highlight = L.layerGroup().addTo(pv.map);
    pv.map.on('click', function (ev) { if (S.placing) { placeAt(ev.latlng); } });
    return pv.map;
  }

  async function loadFeatures() {
    var rev = S.ws.draft_revision || (S.report && S.report.revision);
    if (!rev || !S.ws.campus_id) { return; }
    if (S.features && S.featuresRevision === rev) { drawPreview(); return; }
    try {
      S.features = await api('GET', '/campuses/' + enc(S.ws.campus_id) + '/revisions/' + rev + '/features.geojson');
      S.featuresRevision = rev;
    } catch (err) {
      toast('The draft map could not be loaded: ' + err.message, true);
      return;
    }
    try { S.edits = ((await api('GET', base + '/edits')) || {}).edits || []; } catch (err) { S.edits = []; }
    drawPreview(true);
  }

  function featuresOf(type) {
    return ((S.features && S.features.features) || []).filter(function (f) {
      return f.properties && (f.properties.feature_type === type || f.feature_type === type);
    });
  }

  function ordinals() {
    var seen = {};
    ((S.features && S.features.levels) || []).forEach(function (lv) {
      if (!(lv.ordinal in seen)) { seen[lv.ordinal] = lv.name; }
    });
    return Object.keys(seen).map(Number).sort(function (a, b) { return a - b; })
      .map(function (o) { return { ordinal: o, name: seen[o] }; });
  }

  function drawPreview(fit) {
    var map = previewMap();
    pv.base.clearLayers();
    if (S.campus.imagery) {
      pv.base.addLayer(L.tileLayer(S.campus.imagery.url, {
        maxZoom: cfg.zoom.max, maxNativeZoom: cfg.zoom.max_native, opacity: 0.9 }));
    }
    var grounds = L.geoJSON({ type: 'FeatureCollection', features: featuresOf('grounds') }, {
      style: { color: '#6a8f5a', weight: 1, fillColor: '#cfe3c4', fillOpacity: 0.5 }, interactive: false });
    var buildings = L.geoJSON({ type: 'FeatureCollection', features: featuresOf('building') }, {
      style: { color: '#333', weight: 2, fillColor: '#e9e6df', fillOpacity: 0.6 }, interactive: false });
    pv.base.addLayer(grounds);
    pv.base.addLayer(buildings);
    var levels = ordinals();
    if (S.ordinal === null || !levels.some(function (l) { return l.ordinal === S.ordinal; })) {
      S.ordinal = levels.some(function (l) { return l.ordinal === 0; }) ? 0 : (levels[0] ? levels[0].ordinal : 0);
    }
    var bar = clear($('ws-levels'));
    levels.slice().reverse().forEach(function (lv) {
      bar.appendChild(el('button', { type: 'button', text: lv.name, 'data-ordinal': lv.ordinal,
                                     'aria-pressed': lv.ordinal === S.ordinal ? 'true' : 'false',
                                     className: lv.ordinal === S.ordinal ? 'ws-active' : '',
                                     onclick: function () { setOrdinal(lv.ordinal); } }));
    });
    drawLevel();
    if (fit && buildings.getLayers().length) {
      map.fitBounds(buildings.getBounds(), { padding: [20, 20] });
    }
    $('ws-preview').dataset.revision = String(S.featuresRevision);
    document.body.dataset.draftRevision = String(S.featuresRevision);
  }

  function setOrdinal(ordinal) {
    S.ordinal = ordinal;
    Array.prototype.forEach.call($('ws-levels').children, function (b) {
      var on = Number(b.dataset.ordinal) === ordinal;
      b.classList.toggle('ws-active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    drawLevel();
  }

  var CATEGORY_FILL = { room: '#fdfcf8', hallway: '#eef1f4', corridor: '#eef1f4', restroom: '#e6f0fb',
                        stairs: '#e9f5e9', elevator: '#fbe9f0' };

  function drawLevel() {
    pv.levelLayer.clearLayers();
    pv.unitLayers = {};
    pv.doorLayers = {};
    var here = function (f) { return f.properties.ordinal === S.ordinal; };
    featuresOf('unit').filter(here).forEach(function (f) {
      var p = f.properties;
      var selected = S.selectedUnit === f.id;
      var layer = L.geoJSON(f, {
        style: { color: selected ? '#d9480f' : '#5b6470', weight: selected ? 3 : 1,
                 fillColor: CATEGORY_FILL[p.category] || '#fdfcf8', fillOpacity: 0.92 }
      });
      layer.on('click', function (ev) {
        if (S.placing) { return; }
        L.DomEvent.stopPropagation(ev);
        selectUnit(f.id, true);
      });
      // a tooltip given a string parses it as HTML: names from a drawing go in as text
      layer.bindTooltip(el('span', { text: (p.number ? p.number + ' ' : '') + (p.name || '') }), { sticky: true });
      layer.addTo(pv.levelLayer);
      pv.unitLayers[f.id] = layer;
      if (p.number) {
        var c = layer.getBounds().getCenter();
        L.marker(c, { icon: new TextIcon({ className: 'ws-room-no', iconSize: null, textValue: p.number }),
                      interactive: false, keyboard: false }).addTo(pv.levelLayer);
      }
    });
    featuresOf('opening').filter(function (f) { return here(f) && f.properties.exterior; }).forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var m = L.marker([c[1], c[0]], { icon: new TextIcon({ className: 'ws-door' + (p.main_entrance ? ' ws-door-main' : ''),
                                                            iconSize: [22, 22], iconAnchor: [11, 11],
                                                            textValue: p.number || '?' }),
                                       title: 'Door ' + (p.number || '') + (p.main_entrance ? ' (main entrance)' : ''),
                                       keyboard: false });
      m.on('click', function (ev) { if (!S.placing) { L.DomEvent.stopPropagation(ev); selectDoor(f.id); } });
      m.addTo(pv.levelLayer);
      pv.doorLayers[f.id] = m;
    });
    featuresOf('amenity').filter(function (f) {
      return f.properties.ordinal === S.ordinal || (f.properties.ordinal === undefined && S.ordinal === 0);
    }).forEach(function (f) {
      var c = f.geometry.coordinates;
      var p = f.properties;
      L.marker([c[1], c[0]], { icon: new TextIcon({ className: 'ws-amenity ws-amenity-' + p.kind, iconSize: [26, 18],
                                                    iconAnchor: [13, 9], textValue: amenityCode(p.kind) }),
                               title: kindLabel(p.kind) + (p.name ? ': ' + p.name : ''), keyboard: false })
        .addTo(pv.levelLayer);
    });
  }

  function amenityCode(kind) {
    return { knox_box: 'KB', aed: 'AED', gas_shutoff: 'G', water_shutoff: 'W', electric_shutoff: 'E',
             fire_alarm_panel: 'FA', rally_point: 'RP', staging_area: 'SA', trauma_kit: 'TK',
             first_aid: '+', hazard: '!', access_control_panel: 'AC', stairwell: 'ST', elevator: 'EL' }[kind] || '•';
  }

  function kindLabel(kind) {
    var found = cfg.placeable.find(function (p) { return p.kind === kind; });
    return found ? found.label : String(kind).replace(/_/g, ' ');
  }

  function showFinding(f, button) {
    if (!f.at) { return; }
    Array.prototype.forEach.call(document.querySelectorAll('.ws-finding.ws-current'), function (b) {
      b.classList.remove('ws-current');
    });
    button.classList.add('ws-current');
    var level = ((S.features && S.features.levels) || []).find(function (lv) {
      return (!f.building || lv.building_id === f.building) &&
        (lv.name === f.level || lv.short_name === f.level || lv.id === f.level);
    });
    if (level && level.ordinal !== S.ordinal) { setOrdinal(level.ordinal); }
    var latlng = L.latLng(f.at[1], f.at[0]);
    pv.highlight.clearLayers();
    L.circleMarker(latlng, { radius: 16, color: '#d9480f', weight: 3, fill: false, className: 'ws-pulse' }).addTo(pv.highlight);
    L.circleMarker(latlng, { radius: 4, color: '#d9480f', fillOpacity: 1 }).addTo(pv.highlight);
    L.popup({ autoPan: true }).setLatLng(latlng)
      .setContent(el('div', { className: 'ws-popup' }, [el('strong', { text: KIND_TITLES[f.kind] || f.kind }),
                                                        el('div', { text: f.message })]))
      .openOn(pv.map);
    pv.map.setView(latlng, Math.max(pv.map.getZoom(), 19));
    $('ws-preview').dataset.highlight = f.at.join(',');
    // a room the finding is about opens for editing (a missing or doubled number)
    if (f.kind === 'room_without_label' || f.kind === 'duplicate_number') {
      var unit = unitAt(f.at);
      if (unit) { selectUnit(unit.id, true); }
    }
  }

  function unitAt(lonlat) {
    return featuresOf('unit').find(function (u) {
      var g = u.geometry;
      if (!g || u.properties.ordinal !== S.ordinal) { return false; }
      var polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
      return polys.some(function (poly) { return pointInRing(lonlat, poly[0]); });
    }) || null;
  }

  // =========================================================================================
  // Step 5: fix in place
  // =========================================================================================

  function setupFix() {
    Array.prototype.forEach.call(document.querySelectorAll('.ws-tabs [role=tab]'), function (tab) {
      tab.addEventListener('click', function () { showTab(tab.dataset.tab); });
    });
    $('ws-room-filter').addEventListener('input', renderRooms);
    $('ws-save-doors').addEventListener('click', saveDoors);
    var kinds = $('ws-place-kind');
    cfg.placeable.forEach(function (p) { kinds.appendChild(el('option', { value: p.kind, text: p.label })); });
    $('ws-place').addEventListener('click', function () {
      if (S.placing) { stopPlacing(); return; }
      S.placing = { kind: kinds.value, name: $('ws-place-name').value.trim() };
      $('ws-place').textContent = 'Cancel';
      $('ws-place-hint').textContent = 'Click the map above where the ' + kindLabel(S.placing.kind) + ' is.';
      $('ws-preview').classList.add('ws-placing');
      $('ws-preview').scrollIntoView({ block: 'center', behavior: 'smooth' });
    });
  }

  function stopPlacing() {
    S.placing = null;
    $('ws-place').textContent = 'Place on the map';
    $('ws-place-hint').textContent = '';
    $('ws-preview').classList.remove('ws-placing');
  }

  function showTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll('.ws-tabs [role=tab]'), function (tab) {
      tab.setAttribute('aria-selected', tab.dataset.tab === name ? 'true' : 'false');
    });
    Array.prototype.forEach.call(document.querySelectorAll('#ws-fix [data-panel]'), function (p) {
      p.hidden = p.dataset.panel !== name;
    });
  }

  function levelText(p) {
    var b = featuresOf('building').find(function (f) { return f.id === p.building_id; });
    var bname = b ? (b.properties.short_name || b.properties.name) : '';
    return [bname, p.level_name].filter(Boolean).join(' · ');
  }

  function renderFix() {
    var has = !!S.features;
    $('ws-fix').hidden = !has;
    $('ws-fix-none').hidden = has;
    if (!has) { return; }
    renderRooms();
    renderDoors();
    renderPoints();
    markSteps();
  }

  function naturalKey(s) { return String(s || '').replace(/\d+/g, function (d) { return ('00000000' + d).slice(-8); }); }

  function renderRooms() {
    var filter = $('ws-room-filter').value.trim().toLowerCase();
    var body = clear($('ws-rooms').tBodies[0]);
    var units = featuresOf('unit').slice().sort(function (a, b) {
      return (a.properties.ordinal - b.properties.ordinal) ||
        naturalKey(a.properties.number).localeCompare(naturalKey(b.properties.number));
    });
    units.forEach(function (f) {
      var p = f.properties;
      var text = (p.number + ' ' + p.name + ' ' + (p.aliases || []).join(' ')).toLowerCase();
      if (filter && text.indexOf(filter) < 0) { return; }
      body.appendChild(roomRow(f));
    });
  }

  function roomRow(f) {
    var p = f.properties;
    var row = el('tr', { 'data-unit': f.id, 'data-number': p.number || '',
                         className: S.selectedUnit === f.id ? 'ws-selected' : '' });
    if (S.editingUnit === f.id) {
      var number = el('input', { value: p.number || '', maxlength: 40, 'data-field': 'number', 'aria-label': 'Room number' });
      var name = el('input', { value: p.name || '', maxlength: 200, 'data-field': 'name', 'aria-label': 'Room name' });
      var aliases = el('input', { value: (p.aliases || []).join(', '), maxlength: 500, 'data-field': 'aliases',
                                  placeholder: 'comma separated', 'aria-label': 'Other names' });
      var save = el('button', { type: 'button', className: 'ws-primary', 'data-action': 'save-room', text: 'Save' });
      var cancel = el('button', { type: 'button', className: 'ws-quiet', text: 'Cancel' });
      var note = el('span', { className: 'ws-error', role: 'alert' });
      save.addEventListener('click', async function () {
        save.disabled = true;
        try {
          await applyEdits([{ op: 'room', unit_id: f.id, number: number.value.trim(), name: name.value.trim(),
                              aliases: aliases.value.split(',').map(function (s) { return s.trim(); }).filter(Boolean) }],
                           'Room ' + (number.value.trim() || p.number) + ' saved');
          S.editingUnit = null;
          renderRooms();
        } catch (err) {
          note.textContent = err.message;
          save.disabled = false;
        }
      });
      cancel.addEventListener('click', function () { S.editingUnit = null; renderRooms(); });
      [number, name, aliases].forEach(function (input) {
        input.addEventListener('keydown', function (ev) {
          if (ev.key === 'Enter') { ev.preventDefault(); save.click(); }
          if (ev.key === 'Escape') { cancel.click(); }
        });
      });
      row.classList.add('ws-editing');
      [el('td', {}, [number]), el('td', {}, [name]), el('td', {}, [aliases]),
       el('td', { text: levelText(p) }), el('td', { className: 'ws-row-actions' }, [save, cancel, note])]
        .forEach(function (c) { row.appendChild(c); });
      setTimeout(function () { number.focus(); number.select(); }, 0);
      return row;
    }
    [el('td', { className: 'ws-strong', text: p.number || '—' }), el('td', { text: p.name || '' }),
     el('td', { className: 'ws-muted', text: (p.aliases || []).join(', ') }), el('td', { text: levelText(p) }),
     el('td', {}, [el('button', { type: 'button', className: 'ws-quiet', 'data-action': 'edit-room', text: 'Edit',
                                  'aria-label': 'Edit room ' + (p.number || p.name),
                                  onclick: function (ev) { ev.stopPropagation(); selectUnit(f.id, false, true); } })])]
      .forEach(function (c) { row.appendChild(c); });
    row.addEventListener('click', function () { selectUnit(f.id, false); });
    return row;
  }

  function selectUnit(id, fromMap, edit) {
    var f = featuresOf('unit').find(function (u) { return u.id === id; });
    if (!f) { return; }
    S.selectedUnit = id;
    if (fromMap || edit) { S.editingUnit = id; }
    showTab('rooms');
    if (f.properties.ordinal !== S.ordinal) { setOrdinal(f.properties.ordinal); } else { drawLevel(); }
    if (!fromMap && pv.unitLayers[id]) { pv.map.fitBounds(pv.unitLayers[id].getBounds(), { maxZoom: 20, padding: [60, 60] }); }
    $('ws-room-filter').value = '';
    renderRooms();
    var row = document.querySelector('#ws-rooms tr[data-unit="' + CSS.escape(id) + '"]');
    if (row && fromMap) { row.scrollIntoView({ block: 'nearest' }); }
  }

  function lockedDoors() {
    var locked = {};
    S.edits.forEach(function (e) {
      var edit = e.edit || e;
      if (edit.op === 'door_number' && edit.locked) { locked[edit.opening_id] = edit.number; }
    });
    return locked;
  }

  function renderDoors() {
    var body = clear($('ws-doors').tBodies[0]);
    var locked = lockedDoors();
    featuresOf('opening').filter(function (f) { return f.properties.exterior; }).sort(function (a, b) {
      return naturalKey(a.properties.number).localeCompare(naturalKey(b.properties.number));
    }).forEach(function (f) {
      var p = f.properties;
      var main = el('input', { type: 'radio', name: 'ws-main', checked: !!p.main_entrance,
                               'aria-label': 'Door ' + (p.number || '') + ' is the main entrance' });
      main.addEventListener('change', function () {
        if (main.checked) {
          applyEdits([{ op: 'main_entrance', opening_id: f.id }], 'Main entrance set')
            .catch(function (err) { toast(err.message, true); });
        }
      });
      var number = el('input', { value: p.number || '', maxlength: 10, size: 5, 'data-field': 'door-number',
                                 'aria-label': 'Door number' });
      var lock = el('input', { type: 'checkbox', checked: f.id in locked, 'aria-label': 'Lock door ' + (p.number || '') });
      number.addEventListener('input', function () { lock.checked = true; });
      var row = el('tr', { 'data-opening': f.id, 'data-original': p.number || '' }, [
        el('td', {}, [main]), el('td', {}, [number]), el('td', {}, [lock]), el('td', { text: levelText(p) })]);
      row.addEventListener('click', function (ev) {
        if (ev.target.tagName !== 'INPUT') { selectDoor(f.id); }
      });
      body.appendChild(row);
    });
  }

  function selectDoor(id) {
    showTab('doors');
    var f = featuresOf('opening').find(function (o) { return o.id === id; });
    if (!f) { return; }
    if (f.properties.ordinal !== S.ordinal) { setOrdinal(f.properties.ordinal); }
    var c = f.geometry.coordinates;
    pv.highlight.clearLayers();
    L.circleMarker([c[1], c[0]], { radius: 16, color: '#d9480f', weight: 3, fill: false, className: 'ws-pulse' }).addTo(pv.highlight);
    pv.map.setView([c[1], c[0]], Math.max(pv.map.getZoom(), 19));
    Array.prototype.forEach.call(document.querySelectorAll('#ws-doors tr'), function (r) {
      r.classList.toggle('ws-selected', r.dataset.opening === id);
    });
  }

  async function saveDoors() {
    var locked = lockedDoors();
    var edits = [];
    Array.prototype.forEach.call(document.querySelectorAll('#ws-doors tbody tr'), function (row) {
      var number = row.querySelector('[data-field=door-number]').value.trim();
      var lock = row.querySelector('input[type=checkbox]').checked;
      var id = row.dataset.opening;
      if (lock && number && (locked[id] !== number)) {
        edits.push({ op: 'door_number', opening_id: id, number: number, locked: true });
      }
    });
    if (!edits.length) { toast('No door numbers changed or locked.'); return; }
    try {
      await applyEdits(edits, edits.length + ' door number' + (edits.length === 1 ? '' : 's') + ' locked');
    } catch (err) { toast(err.message, true); }
  }

  function pointInRing(pt, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if (((yi > pt[1]) !== (yj > pt[1])) && (pt[0] < (xj - xi) * (pt[1] - yi) / (yj - yi) + xi)) { inside = !inside; }
    }
    return inside;
  }

  async function placeAt(latlng) {
    var placing = S.placing;
    var lonlat = [latlng.lng, latlng.lat];
    var edit = { op: 'place', kind: placing.kind, name: placing.name || kindLabel(placing.kind), lonlat: lonlat };
    var building = featuresOf('building').find(function (b) {
      var g = b.geometry;
      var polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
      return polys.some(function (poly) { return pointInRing(lonlat, poly[0]); });
    });
    if (building) {
      edit.building_id = building.id;
      var level = ((S.features && S.features.levels) || []).find(function (lv) {
        return lv.building_id === building.id && lv.ordinal === S.ordinal;
      });
      if (level) { edit.level_id = level.id; }
    }
    stopPlacing();
    try {
      await applyEdits([edit], kindLabel(edit.kind) + ' placed');
    } catch (err) { toast(err.message, true); }
  }

  function renderPoints() {
    var list = clear($('ws-points'));
    var amenities = featuresOf('amenity');
    if (!amenities.length) { list.appendChild(el('li', { className: 'ws-muted', text: 'No safety points yet.' })); }
    amenities.forEach(function (f) {
      var p = f.properties;
      list.appendChild(el('li', { 'data-amenity': f.id }, [
        el('span', { className: 'ws-amenity ws-amenity-' + p.kind, text: amenityCode(p.kind) }),
        el('span', { text: kindLabel(p.kind) + (p.name && p.name !== kindLabel(p.kind) ? ': ' + p.name : '') }),
        el('span', { className: 'ws-muted', text: p.level_name ? ' · ' + p.level_name : ' · outdoors' }),
        el('button', { type: 'button', className: 'ws-quiet', text: 'Remove',
                       onclick: function () {
                         applyEdits([{ op: 'remove_point', amenity_id: f.id }], kindLabel(p.kind) + ' removed')
                           .catch(function (err) { toast(err.message, true); });
                       } })
      ]));
    });
  }

  async function applyEdits(edits, what) {
    var result;
    try {
      result = await api('POST', base + '/edits', { edits: edits });
    } catch (err) {
      if (err.status === 409) {  // another editor changed the draft meanwhile: show theirs
        S.features = null;
        await refresh();
        err.message += ' The page now shows the latest draft; make your change again.';
      }
      throw err;
    }
    if (result && result.revision) { S.ws.draft_revision = result.revision; }
    if (result && result.edits) { S.edits = result.edits; }
    S.features = null;
    await loadFeatures();
    renderFix();
    await renderPublish();
    toast(what + '. Draft revision ' + S.ws.draft_revision + '.');
    document.body.dataset.edits = String((Number(document.body.dataset.edits) || 0) + 1);
    return result;
  }

  // =========================================================================================
  // Step 6: compare, publish, record a walk-through
  // =========================================================================================

  var diffMap = null;
  var diffLayer = null;
  var diffColours = { added: '#1a7f37', removed: '#b50909', changed: '#b35c00' };

  function setupPublish() {
    $('ws-publish-btn').addEventListener('click', publish);
    var items = $('ws-v-items');
    cfg.checklist.forEach(function (text, i) {
      items.appendChild(el('label', { className: 'ws-check' }, [
        el('input', { type: 'checkbox', value: text, 'data-item': i }), ' ' + text]));
    });
    $('ws-v-date').value = new Date().toISOString().slice(0, 10);
    $('ws-v-by').value = cfg.user || '';
    $('ws-verify').addEventListener('submit', async function (ev) {
      ev.preventDefault();
      var status = $('ws-v-status');
      status.className = '';
      status.textContent = 'Saving…';
      var checked = Array.prototype.filter.call(items.querySelectorAll('input'), function (i) { return i.checked; })
        .map(function (i) { return i.value; });
      try {
        var record = await api('POST', '/campuses/' + enc(S.ws.campus_id) + '/verifications', {
          verified_on: $('ws-v-date').value, verified_by: $('ws-v-by').value.trim(),
          organisation: $('ws-v-org').value.trim(), checklist: checked, notes: $('ws-v-notes').value });
        status.className = 'ws-ok';
        status.textContent = 'Walk-through recorded' + (record && record.line ? ': ' + record.line : '') + '.';
        document.body.dataset.verified = 'true';
      } catch (err) {
        status.className = 'ws-error';
        status.textContent = err.message;
      }
    });
  }

  async function renderPublish() {
    var rev = S.ws.draft_revision;
    var cid = S.ws.campus_id;
    $('ws-publish').hidden = !rev;
    $('ws-publish-none').hidden = !!rev;
    if (!rev) { return; }
    var status = $('ws-publish-status');
    var campus = await campusStatus();
    var info = { current: campus.current, published: campus.current === rev };
    S.publishInfo = info;
    // once published, the changes shown stay those that were published
    if (!info.published || !S.diff) {
      var diff = null;
      try {
        diff = await api('GET', '/campuses/' + enc(cid) + '/revisions/' + rev + '/diff');
      } catch (err) {
        $('ws-diff-line').textContent = 'The changes could not be listed: ' + err.message;
      }
      S.diff = diff;
      var list = clear($('ws-diff'));
      if (diff) {
        var counts = Object.keys(diff.counts || {}).filter(function (k) { return diff.counts[k]; })
          .map(function (k) { return diff.counts[k] + ' ' + k; }).join(', ');
        $('ws-diff-line').textContent = 'Draft revision ' + rev + ' against ' +
          (diff.against ? 'the published revision ' + diff.against : 'nothing published yet') + ': ' +
          (counts || 'no changes') + '.';
        (diff.changes || []).slice(0, 500).forEach(function (c) {
          var first = c.changes && c.changes[0];
          var css = first === 'added' || first === 'removed' ? first : 'changed';
          list.appendChild(el('li', { className: 'ws-diff-' + css, text: c.summary }));
        });
        if ((diff.changes || []).length > 500) {
          list.appendChild(el('li', { className: 'ws-muted', text: 'and ' + (diff.changes.length - 500) + ' more (see the full review)' }));
        }
        if (!(diff.changes || []).length) { list.appendChild(el('li', { text: 'No changes.' })); }
        $('ws-review-link').href = diff.links && diff.links.review ? diff.links.review
          : '/campuses/' + enc(cid) + '/revisions/' + rev + '/review';
        drawDiff(diff);
      }
    }
    if (info.published && S.diff) {
      $('ws-diff-line').textContent = 'Revision ' + rev + ' is published: officers see it. It changed, against ' +
        (S.diff.against ? 'revision ' + S.diff.against : 'nothing published before') + ':';
    }
    var pill = $('ws-state');
    if (info.published) { pill.textContent = 'Published'; pill.dataset.state = 'published'; }
    var btn = $('ws-publish-btn');
    if (info.published) {
      btn.disabled = true;
      btn.textContent = 'Published';
      status.className = 'ws-ok';
      status.textContent = 'Revision ' + rev + ' is what responders see.';
    } else {
      btn.disabled = false;
      btn.textContent = 'Publish revision ' + rev;
      if (!status.dataset.keep) { status.textContent = ''; }
    }
    markSteps();
  }

  function drawDiff(diff) {
    if (!diffMap) {
      diffMap = L.map('ws-diffmap', { maxZoom: cfg.zoom.max, attributionControl: false, zoomSnap: 0.5 });
      diffMap.setView([20, 0], 2);
    }
    var url = diff.links && diff.links.geojson;
    if (!url) { return; }
    api('GET', url).then(function (fc) {
      if (diffLayer) { diffMap.removeLayer(diffLayer); }
      var under = L.geoJSON({ type: 'FeatureCollection', features: featuresOf('building') }, {
        style: { color: '#8a939e', weight: 1, fillColor: '#e9e6df', fillOpacity: 0.5 }, interactive: false });
      diffLayer = L.featureGroup([under]).addTo(diffMap);
      L.geoJSON(fc, {
        style: function (f) {
          var first = f.properties.changes[0];
          var colour = diffColours[first === 'added' || first === 'removed' ? first : 'changed'];
          return { color: colour, weight: 2, fillOpacity: 0.2 };
        },
        pointToLayer: function (f, latlng) {
          var first = f.properties.changes[0];
          return L.circleMarker(latlng, { radius: 6, weight: 2,
                                          color: diffColours[first === 'added' || first === 'removed' ? first : 'changed'] });
        },
        onEachFeature: function (f, layer) { layer.bindTooltip(el('span', { text: f.properties.summary })); }
      }).addTo(diffLayer);
      var bounds = diffLayer.getBounds();
      if (bounds.isValid()) { diffMap.fitBounds(bounds, { padding: [16, 16] }); }
    }).catch(function () { /* the list says enough */ });
  }

  async function publish() {
    var rev = S.ws.draft_revision;
    var status = $('ws-publish-status');
    var btn = $('ws-publish-btn');
    btn.disabled = true;
    status.className = '';
    status.textContent = 'Publishing…';
    try {
      var expect = S.diff ? (S.diff.against || null) : (S.publishInfo ? S.publishInfo.current : null);
      var result = await api('POST', '/campuses/' + enc(S.ws.campus_id) + '/revisions/' + rev + '/publish',
                             { expect_current: expect });
      status.dataset.keep = 'true';
      status.className = 'ws-ok';
      status.textContent = result.message || ('Published revision ' + result.current + '.');
      document.body.dataset.published = String(result.current);
      toast('Published. Officers now see revision ' + result.current + '.');
      await refresh();
      await renderPublish();
      status.className = 'ws-ok';
      status.textContent = (result.message || 'Published') + ' Officers see it now.';
    } catch (err) {
      btn.disabled = false;
      status.className = 'ws-error';
      status.textContent = err.message;
      if (err.status === 409) { await renderPublish(); status.className = 'ws-error'; status.textContent = err.message; }
    }
  }

  // =========================================================================================

  async function workspacePage() {
    setupUpload();
    setupGeoref();
    setupImport();
    setupFix();
    setupPublish();
    try {
      await load();
      await autoSiteFiles();
    } catch (err) {
      toast(err.status === 404 ? 'This workspace does not exist, or is not your organisation\'s.' : err.message, true);
      $('ws-app').setAttribute('aria-busy', 'false');
    }
    document.body.dataset.ready = 'true';
  }

  window.workspace = {
    state: S,
    geo: geo,
    preview: function () { return pv.map; },
    unitLayers: function () { return pv.unitLayers; },
    refresh: refresh
  };

  if (WS) { workspacePage(); } else { homePage(); }
}());
