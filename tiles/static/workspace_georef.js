/* gridmap workspace, step 3, georeference: point pairs clicked on the plan and the site map, the
 * fit and its advice, GEODATA, placing by dragging.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var cfg = app.cfg, S = app.state, $ = app.$, el = app.el, clear = app.clear, api = app.api,
      toast = app.toast, base = app.base, enc = app.enc, metres = app.metres,
      quality = app.quality, OTHER_COLOUR = app.OTHER_COLOUR, UNITS = app.UNITS,
      UNIT_METRES = app.UNIT_METRES, drawings = app.drawings, drawingById = app.drawingById,
      saveDrawing = app.saveDrawing, markSteps = app.markSteps;

  var geo = { plan: null, earth: null, planLayer: null, planMarkers: null, earthMarkers: null,
              pendingMarker: null, overlay: null, earthLayers: null, earthBounds: null,
              photoChoice: null, photoControl: null };

  function setupGeoref() {
    geo.plan = app.planMap($('ws-plan'));
    geo.earth = L.map('ws-earth', { minZoom: 2, maxZoom: cfg.zoom.max, attributionControl: false,
                                    zoomSnap: 0.5 });
    geo.earth.setView([20, 0], 2);
    geo.planMarkers = L.layerGroup().addTo(geo.plan);
    geo.earthMarkers = L.layerGroup().addTo(geo.earth);
    geo.earthLayers = L.layerGroup().addTo(geo.earth);
    L.control.scale({ position: 'bottomleft', metric: true, imperial: false }).addTo(geo.earth);
    geo.plan.on('click', function (ev) { addHalf('cad', [ev.latlng.lng, ev.latlng.lat]); });
    geo.earth.on('click', function (ev) { addHalf('lonlat', [ev.latlng.lng, ev.latlng.lat]); });
    // without a pointer (the maps' arrow keys move them) or a finger too broad for a corner:
    // the point is where the cross in the middle of the map is
    $('ws-plan-cross').addEventListener('click', function () {
      var c = geo.plan.getCenter();
      addHalf('cad', [c.lng, c.lat]);
    });
    $('ws-earth-cross').addEventListener('click', function () {
      var c = geo.earth.getCenter();
      addHalf('lonlat', [c.lng, c.lat]);
    });
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
    app.loadPreview(id).then(function (preview) {
      if (S.geo.drawing !== id) { return; }
      var groups = app.drawLayerGroups(geo.plan, preview, function (name) {
        var role = app.roleOfLayer(id, name);
        return { color: role ? role.colour : OTHER_COLOUR, weight: role && role.key === 'outline' ? 2.5 : 1,
                 fill: false, opacity: role ? 0.9 : 0.45 };
      });
      geo.planLayer = L.featureGroup(Object.keys(groups).filter(function (name) {
        var role = app.roleOfLayer(id, name);
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

  // --- the photo under the site map ------------------------------------------------------------

  // The newest GeoTIFF uploaded to this workspace, as a tile layer's settings (its tiles come
  // from the workspace, checked and reprojected at upload); before the workspace is loaded,
  // what the page was drawn with (cfg.workspace_imagery).
  function workspacePhoto() {
    if (!S.ws) { return cfg.workspace_imagery || null; }
    var newest = null;
    (S.ws.files || []).forEach(function (f) {
      if (f.kind === 'imagery' && !f.error && (!newest || f.created_at > newest.created_at
                                                || (f.created_at === newest.created_at && f.id > newest.id))) {
        newest = f;
      }
    });
    if (!newest) { return null; }
    return { url: base + '/files/' + enc(newest.id) + '/imagery/{z}/{x}/{y}{r}.png',
             attribution: 'Uploaded photo ' + newest.name, file: newest.id, name: newest.name,
             bounds: (newest.detail && newest.detail.bounds) || null };
  }

  // What is under the site's maps: the workspace's own upload (newer than anything the campus
  // has, and what the editor brought for this), else the campus's own photo or the server's
  // provider (cfg.imagery); with both, the editor chooses (the choice kept while the page
  // lives). {kind: 'workspace'|'campus', url, bounds, ...} or null.
  function siteImagery() {
    var own = workspacePhoto(), campus = S.campus.imagery;
    if (own && (geo.photoChoice !== 'campus' || !campus)) { return Object.assign({ kind: 'workspace' }, own); }
    return campus ? Object.assign({ kind: 'campus' }, campus) : null;
  }

  // the choice between the uploaded photo and the campus's imagery, on the map, when both exist
  function renderPhotoChoice() {
    var own = workspacePhoto(), campus = S.campus.imagery;
    if (!own || !campus) {
      if (geo.photoControl) { geo.photoControl.remove(); geo.photoControl = null; }
      return;
    }
    if (!geo.photoControl) {
      geo.photoControl = L.control({ position: 'topright' });
      geo.photoControl.onAdd = function () {
        var select = el('select', { id: 'ws-photo-choice', 'aria-label': 'Photo under the site map' });
        select.addEventListener('change', function () {
          geo.photoChoice = select.value;
          loadEarthLayers();
        });
        var box = el('label', { className: 'ws-photo-choice leaflet-bar' }, ['Photo: ', select]);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      };
      geo.photoControl.addTo(geo.earth);
    }
    var select = clear($('ws-photo-choice'));
    var shown = siteImagery();
    select.appendChild(el('option', { value: 'workspace', text: 'uploaded: ' + own.name,
                                      selected: shown.kind === 'workspace' }));
    select.appendChild(el('option', { value: 'campus', text: campus.attribution || 'campus imagery',
                                      selected: shown.kind === 'campus' }));
  }

  function photoLayer(imagery) {
    var options = { maxZoom: cfg.zoom.max, maxNativeZoom: cfg.zoom.max_native,
                    className: 'ws-imagery' + (imagery.kind === 'workspace' ? ' ws-site-photo' : '') };
    var b = imagery.bounds;
    if (b) { options.bounds = [[b[1], b[0]], [b[3], b[2]]]; }  // no requests beside the photo
    var layer = L.tileLayer(imagery.url, options);
    layer.on('load', function () {
      $('ws-earth').dataset.photo = imagery.kind === 'workspace' ? 'workspace:' + imagery.file : 'campus';
    });
    return layer;
  }

  // an uploaded photo that misses the site (another school's, or placed wrongly by its file):
  // say how far off it is, rather than show a map without it
  function photoElsewhere(imagery, site) {
    var away = false;
    if (imagery && imagery.kind === 'workspace' && imagery.bounds) {
      var b = imagery.bounds;
      var photo = L.latLngBounds([[b[1], b[0]], [b[3], b[2]]]);
      if (!photo.intersects(site)) {
        away = true;
        var d = geo.earth.distance(photo.getCenter(), site.getCenter());
        $('ws-geo-hint').textContent = 'The uploaded photo ' + imagery.name + ' lies ' +
          (d >= 1000 ? (d / 1000).toFixed(1) + ' km' : Math.round(d) + ' m') +
          ' from the site boundary: is it this school\'s? It is not shown here.';
      }
    }
    $('ws-earth').dataset.photoAway = away ? 'true' : 'false';
  }

  async function loadEarthLayers() {
    if (!geo.earth || !S.ws) { return; }
    geo.earthLayers.clearLayers();
    var cid = S.ws.campus_id;
    var bounds = L.latLngBounds([]);
    // what is under the site (siteImagery: the uploaded photo, the campus's own, the server's
    // provider), in the tile pane under the parcel and the pairs; the published plans of this
    // campus when it has some
    if (cid && S.campus.published === null) { await campusStatus(); }
    var imagery = siteImagery();
    $('ws-no-photo').hidden = !!imagery;
    renderPhotoChoice();
    if (imagery) { geo.earthLayers.addLayer(photoLayer(imagery)); }
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
      photoElsewhere(imagery, bounds);
    } else if (S.campus.bounds) {
      var bb = S.campus.bounds;
      geo.earth.fitBounds([[bb[1], bb[0]], [bb[3], bb[2]]]);
      $('ws-earth').dataset.ready = 'true';
    } else if (imagery && imagery.bounds) {  // only a photo so far: show all of it
      var pb = imagery.bounds;
      geo.earth.fitBounds([[pb[1], pb[0]], [pb[3], pb[2]]], { maxZoom: 19 });
      $('ws-earth').dataset.ready = 'true';
      $('ws-geo-hint').textContent = 'Click a point on the plan, then the same point on the photo.';
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
    return new app.TextIcon({ className: 'ws-pin ' + (cls || ''), iconSize: [24, 24], iconAnchor: [12, 12],
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
      var onPlan = L.marker(app.planLatLng(p.cad), { icon: numberIcon(i + 1, cls), title: title,
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
      var latlng = pending.side === 'cad' ? app.planLatLng(pending.xy) : L.latLng(pending.xy[1], pending.xy[0]);
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
        var box = L.geoJSON({ type: 'FeatureCollection', features: feats }, { coordsToLatLng: app.planLatLng }).getBounds();
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

  Object.assign(app, {
    setupGeoref: setupGeoref,
    renderGeorefChoice: renderGeorefChoice,
    loadEarthLayers: loadEarthLayers,
    siteImagery: siteImagery,
    campusStatus: campusStatus,
    geo: geo
  });
}(window.workspace));
