/* gridmap workspace, step 4, import with progress, then the report and the draft on the preview
 * map.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var cfg = app.cfg, S = app.state, $ = app.$, el = app.el, clear = app.clear, api = app.api,
      toast = app.toast, base = app.base, enc = app.enc, drawings = app.drawings,
      refresh = app.refresh;

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
    app.renderFix();
    await app.renderPublish();
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
    // on a phone one finger scrolls the page past the map (and taps a room); two move it
    pv.map = L.map('ws-preview', { maxZoom: cfg.zoom.max, attributionControl: false, zoomSnap: 0.5,
                                   dragging: !L.Browser.mobile });
    pv.map.setView([20, 0], 2);
    L.control.scale({ position: 'bottomleft', metric: true, imperial: true }).addTo(pv.map);
    pv.base = L.layerGroup().addTo(pv.map);
    pv.levelLayer = L.layerGroup().addTo(pv.map);
    pv.highlight = L.layerGroup().addTo(pv.map);
    pv.map.on('click', function (ev) { if (S.placing) { app.placeAt(ev.latlng); } });
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
    // under the draft, the photo under the site map (app.siteImagery, the georeference step's:
    // the photo uploaded to the workspace, or the campus's own imagery)
    var under = app.siteImagery ? app.siteImagery() : S.campus.imagery;
    if (under) {
      var photo = { maxZoom: cfg.zoom.max, maxNativeZoom: cfg.zoom.max_native, opacity: 0.9,
                    className: 'ws-imagery' + (under.kind === 'workspace' ? ' ws-site-photo' : '') };
      var b = under.bounds;
      if (b) { photo.bounds = [[b[1], b[0]], [b[3], b[2]]]; }  // no requests beside the photo
      pv.base.addLayer(L.tileLayer(under.url, photo));
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
        app.selectUnit(f.id, true);
      });
      // a tooltip given a string parses it as HTML: names from a drawing go in as text
      layer.bindTooltip(el('span', { text: (p.number ? p.number + ' ' : '') + (p.name || '') }), { sticky: true });
      layer.addTo(pv.levelLayer);
      pv.unitLayers[f.id] = layer;
      if (p.number) {
        var c = layer.getBounds().getCenter();
        L.marker(c, { icon: new app.TextIcon({ className: 'ws-room-no', iconSize: null, textValue: p.number }),
                      interactive: false, keyboard: false }).addTo(pv.levelLayer);
      }
    });
    featuresOf('opening').filter(function (f) { return here(f) && f.properties.exterior; }).forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var m = L.marker([c[1], c[0]], { icon: new app.TextIcon({ className: 'ws-door' + (p.main_entrance ? ' ws-door-main' : ''),
                                                            iconSize: [22, 22], iconAnchor: [11, 11],
                                                            textValue: p.number || '?' }),
                                       title: 'Door ' + (p.number || '') + (p.main_entrance ? ' (main entrance)' : ''),
                                       keyboard: false });
      m.on('click', function (ev) { if (!S.placing) { L.DomEvent.stopPropagation(ev); app.selectDoor(f.id); } });
      m.addTo(pv.levelLayer);
      pv.doorLayers[f.id] = m;
    });
    featuresOf('amenity').filter(function (f) {
      return f.properties.ordinal === S.ordinal || (f.properties.ordinal === undefined && S.ordinal === 0);
    }).forEach(function (f) {
      var c = f.geometry.coordinates;
      var p = f.properties;
      L.marker([c[1], c[0]], { icon: new app.TextIcon({ className: 'ws-amenity ws-amenity-' + p.kind, iconSize: [26, 18],
                                                    iconAnchor: [13, 9], textValue: amenityCode(p.kind) }),
                               title: kindLabel(p.kind) + (p.name ? ': ' + p.name : ''), keyboard: false })
        .addTo(pv.levelLayer);
    });
    drawFindings();
  }

  var SEVERITY_COLOUR = { error: '#b42318', warning: '#c98a00', info: '#0b57d0' };

  // the floor a finding is on (its building and level as the report names them), or null
  function findingOrdinal(f) {
    if (!f.level) { return null; }
    var level = ((S.features && S.features.levels) || []).find(function (lv) {
      return (!f.building || lv.building_id === f.building) &&
        (lv.name === f.level || lv.short_name === f.level || lv.id === f.level);
    });
    return level ? level.ordinal : null;
  }

  // every finding with a place is marked on the draft map (on its floor); a mark is clicked
  // as its line in the list is
  function drawFindings() {
    var findings = (S.report && S.report.findings) || [];
    findings.forEach(function (f, i) {
      if (!f.at) { return; }
      var ordinal = findingOrdinal(f);
      if (ordinal !== null && ordinal !== S.ordinal) { return; }
      var colour = SEVERITY_COLOUR[f.severity] || SEVERITY_COLOUR.warning;
      var mark = L.circleMarker([f.at[1], f.at[0]], { radius: 7, color: '#fff', weight: 2, fillColor: colour,
                                                      fillOpacity: 1, className: 'ws-finding-mark' });
      mark.bindTooltip(el('span', { text: f.message }));
      mark.on('click', function (ev) {
        if (S.placing) { return; }
        L.DomEvent.stopPropagation(ev);
        var button = document.querySelector('.ws-finding[data-finding="' + i + '"]');
        if (button) { showFinding(f, button); }
      });
      mark.addTo(pv.levelLayer);
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
    var ordinal = findingOrdinal(f);
    if (ordinal !== null && ordinal !== S.ordinal) { setOrdinal(ordinal); }
    var latlng = L.latLng(f.at[1], f.at[0]);
    pv.highlight.clearLayers();
    L.circleMarker(latlng, { radius: 16, color: '#d9480f', weight: 3, fill: false, className: 'ws-pulse' }).addTo(pv.highlight);
    L.circleMarker(latlng, { radius: 4, color: '#d9480f', fillOpacity: 1 }).addTo(pv.highlight);
    pv.map.setView(latlng, Math.max(pv.map.getZoom(), 19), { animate: false });
    L.popup({ autoPan: true }).setLatLng(latlng)
      .setContent(el('div', { className: 'ws-popup' }, [el('strong', { text: KIND_TITLES[f.kind] || f.kind }),
                                                        el('div', { text: f.message })]))
      .openOn(pv.map);
    $('ws-preview').dataset.highlight = f.at.join(',');
    // a room the finding is about opens for editing (a missing or doubled number)
    if (f.kind === 'room_without_label' || f.kind === 'duplicate_number') {
      var unit = unitAt(f.at);
      if (unit) { app.selectUnit(unit.id, true); }
    }
    setTimeout(revealMap, 0);  // after the room's row has taken the focus
  }

  // in one column (a phone, a narrow window) the map is below the lists: bring it into view
  function revealMap() {
    var map = $('ws-preview');
    var box = map.getBoundingClientRect();
    if (box.top < 48 || box.bottom > window.innerHeight) { map.scrollIntoView({ block: 'center' }); }
  }

  function unitAt(lonlat) {
    return featuresOf('unit').find(function (u) {
      var g = u.geometry;
      if (!g || u.properties.ordinal !== S.ordinal) { return false; }
      var polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
      return polys.some(function (poly) { return app.pointInRing(lonlat, poly[0]); });
    }) || null;
  }

  Object.assign(app, {
    setupImport: setupImport,
    renderImportState: renderImportState,
    loadFeatures: loadFeatures,
    featuresOf: featuresOf,
    setOrdinal: setOrdinal,
    drawLevel: drawLevel,
    amenityCode: amenityCode,
    kindLabel: kindLabel,
    pv: pv
  });
}(window.workspace));
