/* gridmap web map: Leaflet over gridmap's own raster tiles, a level switcher and a lookup box.
 *
 * Everything comes from the page's origin (see tiles/webmap.py). Text from the data is only ever
 * put into the page with textContent, never parsed as HTML.
 */
(function () {
  'use strict';

  var cfg = JSON.parse(document.getElementById('gridmap-config').textContent);

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // --- map and levels ------------------------------------------------------------------------

  var bounds = L.latLngBounds(cfg.bounds);
  var map = L.map('gm-map', {
    minZoom: cfg.zoom.min,
    maxZoom: cfg.zoom.max,
    zoomSnap: 1,
    attributionControl: false,
    maxBounds: bounds.pad(1.5),
    maxBoundsViscosity: 0.8
  });

  var layers = {};
  var levelsByOrdinal = {};
  cfg.levels.forEach(function (lv) {
    levelsByOrdinal[lv.ordinal] = lv;
    // the URL carries the campus revision (?v=), so cached tiles of two revisions never mix
    layers[lv.ordinal] = L.tileLayer(cfg.tile_url.replace('{ordinal}', String(lv.ordinal)), {
      minZoom: cfg.zoom.min,
      maxZoom: cfg.zoom.max,
      maxNativeZoom: cfg.zoom.max_native,
      bounds: bounds.pad(0.25),
      tileSize: 256,
      keepBuffer: 4,
      className: 'gm-tiles'
    });
  });

  var currentOrdinal = null;
  var levelButtons = {};

  function setLevel(ordinal) {
    if (!(ordinal in layers) || ordinal === currentOrdinal) { return; }
    if (currentOrdinal !== null) { map.removeLayer(layers[currentOrdinal]); }
    layers[ordinal].addTo(map);
    currentOrdinal = ordinal;
    Object.keys(levelButtons).forEach(function (key) {
      var on = Number(key) === ordinal;
      levelButtons[key].classList.toggle('gm-active', on);
      levelButtons[key].setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    if (history.replaceState) {
      history.replaceState(null, '', '#level=' + ordinal);
    }
  }

  var LevelControl = L.Control.extend({
    options: { position: 'topright' },
    onAdd: function () {
      var box = el('div', 'gm-levels leaflet-bar');
      box.setAttribute('role', 'group');
      box.setAttribute('aria-label', 'Level');
      box.appendChild(el('div', 'gm-levels-title', 'Level'));
      // highest floor on top, like a lift panel
      cfg.levels.slice().reverse().forEach(function (lv) {
        var b = el('button', 'gm-level', lv.name);
        b.type = 'button';
        b.title = lv.name + ' (' + lv.buildings.join(', ') + ')';
        b.setAttribute('data-ordinal', String(lv.ordinal));
        b.addEventListener('click', function () { setLevel(lv.ordinal); });
        levelButtons[lv.ordinal] = b;
        box.appendChild(b);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });
  new LevelControl().addTo(map);

  L.control.scale({ position: 'bottomleft', metric: true, imperial: true, maxWidth: 160 }).addTo(map);

  var NorthControl = L.Control.extend({
    options: { position: 'bottomleft' },
    onAdd: function () {
      var box = el('div', 'gm-north');
      box.appendChild(el('span', 'gm-north-arrow', '↑ N'));
      box.appendChild(el('span', 'gm-north-text', cfg.north_note));
      return box;
    }
  });
  new NorthControl().addTo(map);

  var LegendControl = L.Control.extend({
    options: { position: 'bottomright' },
    onAdd: function () {
      var box = el('details', 'gm-legend');
      if (window.innerWidth > 700) { box.open = true; }
      box.appendChild(el('summary', null, 'Legend'));
      var list = el('ul');
      cfg.legend.forEach(function (item) {
        var li = el('li');
        var sw = el('span', 'gm-swatch gm-swatch-' + item.shape, item.text || '');
        if (item.shape === 'line') {
          sw.style.borderTopColor = item.fill;
        } else {
          sw.style.backgroundColor = item.fill;
          sw.style.borderColor = item.outline;
          if (item.text_colour) { sw.style.color = item.text_colour; }
        }
        li.appendChild(sw);
        li.appendChild(el('span', 'gm-legend-label', item.label));
        list.appendChild(li);
      });
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });
  new LegendControl().addTo(map);

  // The search panel sits over the map's top-left corner, where the first column letters and
  // row numbers are. Fit the grid below the panel, or beside it (and clear of the controls on
  // the right), when that costs no zoom level; otherwise fit it to the whole map, as a zoom
  // level less would halve every label.
  function initialFit() {
    var box = map.getContainer().getBoundingClientRect();
    var panel = document.getElementById('gm-panel').getBoundingClientRect();
    var right = 0;
    Array.prototype.forEach.call(map.getContainer().querySelectorAll('.leaflet-right'), function (c) {
      right = Math.max(right, c.getBoundingClientRect().width);
    });
    var zoom = map.getBoundsZoom(bounds);
    var fits = [
      { paddingTopLeft: L.point(0, panel.bottom - box.top + 8) },
      { paddingTopLeft: L.point(panel.right - box.left + 8, 0), paddingBottomRight: L.point(right + 8, 0) }
    ];
    for (var i = 0; i < fits.length; i++) {
      var pad = fits[i].paddingTopLeft.add(fits[i].paddingBottomRight || L.point(0, 0));
      if (map.getBoundsZoom(bounds, false, pad) >= zoom) { return fits[i]; }
    }
    return {};
  }
  map.fitBounds(bounds, initialFit());
  var fromHash = /(?:^#|&)level=(-?\d+)/.exec(location.hash);
  var startOrdinal = fromHash && (Number(fromHash[1]) in layers) ? Number(fromHash[1]) : cfg.default_ordinal;
  setLevel(startOrdinal in layers ? startOrdinal : cfg.levels.length ? cfg.levels[0].ordinal : 0);

  // --- lookup --------------------------------------------------------------------------------

  var form = document.getElementById('gm-search');
  var input = document.getElementById('gm-q');
  var results = document.getElementById('gm-results');
  var statusLine = document.getElementById('gm-status');
  var list = document.getElementById('gm-list');
  var marker = null;
  var inflight = null;

  function metres(d) {
    return typeof d === 'number' && isFinite(d) ? Math.round(d) + ' m' : '';
  }

  function pointText(what, p) {
    if (!p) { return null; }
    var bits = [];
    if (p.name) { bits.push(p.name); }
    if (p.cell) { bits.push('grid ' + p.cell); }
    if (p.distance_m !== undefined) { bits.push(metres(p.distance_m)); }
    if (p.level_name) { bits.push(p.level_name); }
    return what + ': ' + bits.join(' · ');
  }

  function details(c) {
    var lines = [];
    var where = [];
    if (c.building_name) { where.push(c.building_name); }
    if (c.level_name) { where.push(c.level_name); }
    if (c.unit_number || c.unit_name) {
      where.push([c.unit_number ? 'Room ' + c.unit_number : '', c.unit_name || ''].join(' ').trim());
    }
    if (where.length) { lines.push(where.join(' · ')); }
    if (c.primary_cell) {
      var cells = Array.isArray(c.cells) && c.cells.length > 1 ? ' (spans ' + c.cells.join(', ') + ')' : '';
      lines.push('Grid ' + c.primary_cell + cells);
    }
    if (Array.isArray(c.nearest_doors) && c.nearest_doors.length) {
      lines.push('Nearest door' + (c.nearest_doors.length > 1 ? 's' : '') + ': ' +
        c.nearest_doors.map(function (d) {
          return (d.number ? '#' + d.number : 'door') +
            (d.distance_m !== undefined ? ' (' + metres(d.distance_m) + (d.cell ? ', ' + d.cell : '') + ')' : '');
        }).join(', '));
    }
    var knox = pointText('Knox box', c.nearest_knox_box);
    if (knox) { lines.push(knox); }
    var aed = pointText('AED', c.nearest_aed);
    if (aed) { lines.push(aed); }
    if (c.usng) { lines.push('USNG ' + c.usng); }
    return lines;
  }

  function select(c, item) {
    // on a phone the list would cover the popup: fold it away (tap the search box for it again)
    results.classList.add('gm-collapsed');
    Array.prototype.forEach.call(list.children, function (li) { li.classList.remove('gm-selected'); });
    if (item) { item.classList.add('gm-selected'); }
    if (typeof c.level_ordinal === 'number' && c.level_ordinal in layers) { setLevel(c.level_ordinal); }
    if (typeof c.lat !== 'number' || typeof c.lon !== 'number') { return; }
    var at = L.latLng(c.lat, c.lon);
    if (marker) { map.removeLayer(marker); }
    var popup = el('div', 'gm-popup');
    popup.appendChild(el('strong', null, c.label || c.unit_name || c.unit_number || 'Result'));
    details(c).forEach(function (line) { popup.appendChild(el('div', null, line)); });
    marker = L.circleMarker(at, {
      radius: 16, weight: 4, color: '#0050d8', fillColor: '#0050d8', fillOpacity: 0.15,
      className: 'gm-hit'
    }).addTo(map).bindPopup(popup, { maxWidth: 320 });
    map.flyTo(at, Math.max(map.getZoom(), 20), { duration: 0.8 });
    map.once('moveend', function () { if (marker) { marker.openPopup(); } });
  }

  function show(data) {
    list.textContent = '';
    results.hidden = false;
    results.classList.remove('gm-collapsed');
    var candidates = Array.isArray(data.candidates) ? data.candidates : [];
    var msg = data.message || (data.status === 'not_found' ? 'Nothing found.' :
      data.status === 'ambiguous' ? candidates.length + ' possible matches: pick one.' : '');
    statusLine.textContent = msg;
    statusLine.className = 'gm-status-' + (data.status || 'unknown');
    candidates.forEach(function (c, i) {
      var li = el('li', 'gm-candidate');
      var btn = el('button', 'gm-pick');
      btn.type = 'button';
      btn.appendChild(el('span', 'gm-label', c.label || ('Result ' + (i + 1))));
      details(c).forEach(function (line) { btn.appendChild(el('span', 'gm-detail', line)); });
      btn.addEventListener('click', function () { select(c, li); });
      li.appendChild(btn);
      list.appendChild(li);
    });
    // one clear answer: go there; several: show them and let the user choose
    if (data.status === 'found' && candidates.length) { select(candidates[0], list.firstChild); }
  }

  function fail(text) {
    list.textContent = '';
    results.hidden = false;
    statusLine.className = 'gm-status-error';
    statusLine.textContent = text;
  }

  function search(q) {
    q = (q || '').trim();
    if (!q) { results.hidden = true; return Promise.resolve(); }
    if (inflight) { inflight.abort(); }
    var ctrl = window.AbortController ? new AbortController() : null;
    inflight = ctrl;
    statusLine.className = 'gm-status-busy';
    statusLine.textContent = 'Searching…';
    results.hidden = false;
    return fetch(cfg.lookup_url + '?q=' + encodeURIComponent(q), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (resp) {
      if (resp.status === 401 || resp.status === 403) {
        throw new Error(resp.status === 401 ? 'Your session has expired: sign in again.'
          : 'You do not have access to this campus.');
      }
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok && !Array.isArray(body.candidates)) {
          // the API answers errors as {"error": {"type": ..., "message": ...}}
          var error = body && body.error;
          var detail = (error && typeof error.message === 'string' && error.message) ||
            (body && typeof body.detail === 'string' ? body.detail : '');
          throw new Error(detail || 'Lookup failed (HTTP ' + resp.status + ').');
        }
        return body;
      });
    }).then(function (data) {
      if (inflight === ctrl) { inflight = null; show(data); }
    }).catch(function (err) {
      if (err && err.name === 'AbortError') { return; }
      inflight = null;
      fail(err && err.message ? err.message : 'Lookup failed: is the server reachable?');
    });
  }

  ['focus', 'click'].forEach(function (kind) {
    input.addEventListener(kind, function () { results.classList.remove('gm-collapsed'); });
  });
  statusLine.addEventListener('click', function () { results.classList.toggle('gm-collapsed'); });

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    search(input.value);
  });

  window.gridmap = { map: map, layers: layers, setLevel: setLevel, search: search, config: cfg,
    level: function () { return currentOrdinal; } };
}());
