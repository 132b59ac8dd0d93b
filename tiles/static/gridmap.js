/* gridmap web map: Leaflet over gridmap's own raster tiles, a level switcher and a lookup box.
 *
 * Everything comes from the page's origin (see tiles/webmap.py). Text from the data is only ever
 * put into the page with textContent, never parsed as HTML.
 */
(function () {
  'use strict';

  var cfg = JSON.parse(document.getElementById('gridmap-config').textContent);

  function smallScreen() {
    return window.matchMedia('(max-width: 700px), (max-height: 560px)').matches;
  }

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

  // the plans are transparent outside the buildings (grounds translucent): under them lies
  // the imagery when it is on, else the map's plain background colour (gridmap.css)
  var layers = {};
  var levelsByOrdinal = {};
  cfg.levels.forEach(function (lv) {
    levelsByOrdinal[lv.ordinal] = lv;
    // the URL carries the campus revision (?v=), so cached tiles of two revisions never mix;
    // Leaflet fills {r} with '@2x' on a high-density screen (512-pixel tiles, drawn for it)
    layers[lv.ordinal] = L.tileLayer(cfg.tile_url.replace('{ordinal}', String(lv.ordinal)), {
      minZoom: cfg.zoom.min,
      maxZoom: cfg.zoom.max,
      maxNativeZoom: cfg.zoom.max_native,
      bounds: bounds.pad(0.25),
      tileSize: 256,
      keepBuffer: 4,
      zIndex: 2,
      className: 'gm-tiles'
    });
  });

  var imagery = cfg.imagery ? L.tileLayer(cfg.imagery.url, {
    minZoom: cfg.zoom.min,
    maxZoom: cfg.zoom.max,
    maxNativeZoom: cfg.imagery.max_native_zoom,
    tileSize: 256,
    keepBuffer: 2,
    zIndex: 1,
    className: 'gm-imagery'
  }) : null;

  var currentOrdinal = null;
  var levelButtons = {};
  // called after every level switch (the lookup clears an answer drawn on the old level)
  var levelListeners = [];

  function setLevel(ordinal) {
    if (!(ordinal in layers) || ordinal === currentOrdinal) { return; }
    if (currentOrdinal !== null) { map.removeLayer(layers[currentOrdinal]); }
    layers[ordinal].addTo(map);
    currentOrdinal = ordinal;
    levelListeners.forEach(function (listener) { listener(ordinal); });
    Object.keys(levelButtons).forEach(function (key) {
      var on = Number(key) === ordinal;
      levelButtons[key].classList.toggle('gm-active', on);
      levelButtons[key].setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    saveView();
  }

  // the level and the imagery switch are kept in the URL's fragment, so a reload keeps them
  function saveView() {
    if (!history.replaceState || currentOrdinal === null) { return; }
    history.replaceState(null, '', '#level=' + currentOrdinal +
      (imagery && !map.hasLayer(imagery) ? '&imagery=off' : ''));
  }

  function setImagery(on) {
    if (!imagery) { return; }
    if (on) { imagery.addTo(map); } else { map.removeLayer(imagery); }
    document.documentElement.classList.toggle('gm-imagery-on', on);
    var toggle = document.getElementById('gm-imagery');
    if (toggle) { toggle.checked = on; }
    saveView();
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

  var ImageryControl = L.Control.extend({
    options: { position: 'topright' },
    onAdd: function () {
      var box = el('div', 'gm-imagery-control leaflet-bar');
      var label = el('label', 'gm-imagery-label');
      var input = el('input');
      input.type = 'checkbox';
      input.id = 'gm-imagery';
      input.addEventListener('change', function () { setImagery(input.checked); });
      label.appendChild(input);
      label.appendChild(el('span', null, 'Imagery'));
      box.appendChild(label);
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });
  // the provider's credit, shown while its imagery is (as text: it comes from the settings)
  var CreditControl = L.Control.extend({
    options: { position: 'bottomright' },
    onAdd: function () {
      return el('div', 'gm-credit', cfg.imagery.attribution);
    }
  });
  if (imagery) {
    new ImageryControl().addTo(map);
    if (cfg.imagery.attribution) { new CreditControl().addTo(map); }
  }

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
      box.id = 'gm-legend';
      // open where there is room; on a phone it would hide half the map
      box.open = !smallScreen();
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
      box.addEventListener('toggle', function () {
        if (!box.open) { box.style.maxHeight = ''; }  // a height fitted below an answer
        keepAnswerClear();
      });
      return box;
    }
  });
  var legend = new LegendControl().addTo(map).getContainer();

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
  var imageryOff = /(?:^#|&)imagery=off(?:&|$)/.test(location.hash);
  var startOrdinal = fromHash && (Number(fromHash[1]) in layers) ? Number(fromHash[1]) : cfg.default_ordinal;
  setImagery(!imageryOff);
  setLevel(startOrdinal in layers ? startOrdinal : cfg.levels.length ? cfg.levels[0].ordinal : 0);

  // --- lookup --------------------------------------------------------------------------------
  //
  // The map shows only the current answer: a new search, a not_found, an ambiguous list, an
  // error or a level switch removes the previous pin, ring and popup. The pin never covers what
  // it points at: its tip stands above the room's label, or above wherever the tiles may have
  // drawn a door's or point's symbol (a ring marks its exact spot), by the clearance the server
  // computed from the tiles' label and symbol sizes.

  var form = document.getElementById('gm-search');
  var input = document.getElementById('gm-q');
  var results = document.getElementById('gm-results');
  var statusLine = document.getElementById('gm-status');
  var list = document.getElementById('gm-list');
  var inflight = null;
  var answer = null;      // {candidate, pin, ring, room, key, popupOpen}
  var answerSeq = 0;      // bumped on every clear: a late 'moveend' of an old answer does nothing
  var moving = false;
  map.on('movestart', function () { moving = true; });
  map.on('moveend', function () { moving = false; });

  var PIN_W = 28;
  var PIN_H = 40;
  var PIN_SVG = '<svg width="28" height="40" viewBox="0 0 28 40" ' +
    'aria-hidden="true"><path d="M14 39 C14 39 2 23 2 14 A12 12 0 0 1 26 14 C26 23 14 39 14 39 Z" ' +
    'fill="#0050d8" stroke="#fff" stroke-width="2"/><circle cx="14" cy="14" r="4.5" fill="#fff"/></svg>';

  // what an answer points at, for its clearance: 'room' (a label block), 'door', an amenity's
  // kind (a symbol), or 'point' (anything else: the largest symbol's)
  function clearanceKey(c) {
    if (c.feature_type === 'unit') { return 'room'; }
    if (c.feature_type === 'opening') { return 'door'; }
    var kinds = cfg.marker_clearance[String(cfg.zoom.max)] || {};
    return c.kind && c.kind in kinds ? c.kind : 'point';
  }

  // the pin's lift above the answer's point at this zoom (and for a symbol, the ring's radius)
  function clearance(key, zoom) {
    var byZoom = cfg.marker_clearance || {};
    var entry = byZoom[String(Math.round(zoom === undefined ? map.getZoom() : zoom))] || {};
    return entry[key] || entry.point || 40;
  }

  function pinIcon(key) {
    var lift = PIN_H + clearance(key);
    return L.divIcon({
      className: 'gm-pin', html: PIN_SVG, iconSize: [PIN_W, PIN_H],
      iconAnchor: [PIN_W / 2, lift], popupAnchor: [0, -lift]
    });
  }

  function clearAnswer() {
    answerSeq += 1;
    if (answer) {
      answer.pin.closePopup();
      map.removeLayer(answer.pin);
      if (answer.ring) { map.removeLayer(answer.ring); }
      answer = null;
    }
    map.closePopup();
    legend.style.maxHeight = '';
    Array.prototype.forEach.call(list.children, function (li) { li.classList.remove('gm-selected'); });
    updateWhere();
  }
  levelListeners.push(clearAnswer);

  map.on('zoomend', function () {
    if (!answer) { return; }
    answer.pin.setIcon(pinIcon(answer.key));
    if (answer.ring) { answer.ring.setRadius(clearance(answer.key)); }
    if (answer.popupOpen) { answer.pin.openPopup(); }
  });

  // --- the answer stays clear of the legend, the other controls and the search panel ----------
  //
  // Checked when its popup opens (after the popup's own pan), when the legend is opened and when
  // the window changes size; not while the reader drags the map where they want it. The map
  // moves by the least that clears them all; where nothing clears the whole legend, it opens
  // shorter (scrolling) below the answer, or folds away when even that leaves too little.

  var panel = document.getElementById('gm-panel');
  var CLEAR_GAP = 8;

  function whenSettled(fn) {
    if (moving) { map.once('moveend', fn); } else { fn(); }
  }

  // a node's rectangle in map-container pixels, or null when it is not shown
  function rectOf(node, origin) {
    if (!node || !node.isConnected) { return null; }
    var r = node.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) { return null; }
    return { l: r.left - origin.left, t: r.top - origin.top, r: r.right - origin.left, b: r.bottom - origin.top };
  }

  function overlaps(a, b) { return a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b; }

  // the pin, its ring, its popup and what they point at together: the room's label block
  // centred on its point, or every place the tiles may draw the answer's symbol
  function answerRect(origin) {
    var popup = answer.pin.getPopup();
    var parts = [answer.pin.getElement(), answer.ring && answer.ring.getElement(),
      answer.popupOpen && popup ? popup.getElement() : null];
    var at = map.latLngToContainerPoint([answer.candidate.lat, answer.candidate.lon]);
    var reach = clearance(answer.key);
    var half = answer.room ? Math.max(reach, 40) : reach;
    var target = { l: at.x - half, t: at.y - reach, r: at.x + half, b: at.y + reach };
    return parts.map(function (node) { return rectOf(node, origin); }).concat([target]).reduce(function (acc, r) {
      if (!r) { return acc; }
      if (!acc) { return r; }
      return { l: Math.min(acc.l, r.l), t: Math.min(acc.t, r.t), r: Math.max(acc.r, r.r), b: Math.max(acc.b, r.b) };
    }, null);
  }

  // the moves [dx, dy] of `rect` (each to one edge of an obstacle) that keep it inside the map
  // and off every obstacle, smallest first
  function clearingMoves(rect, obstacles, size) {
    var moves = [[0, 0]];
    obstacles.forEach(function (o) {
      moves.push([0, o.b + CLEAR_GAP - rect.t], [0, o.t - CLEAR_GAP - rect.b],
        [o.r + CLEAR_GAP - rect.l, 0], [o.l - CLEAR_GAP - rect.r, 0]);
    });
    moves.sort(function (a, b) { return Math.abs(a[0]) + Math.abs(a[1]) - Math.abs(b[0]) - Math.abs(b[1]); });
    return moves.filter(function (m) {
      var moved = { l: rect.l + m[0], t: rect.t + m[1], r: rect.r + m[0], b: rect.b + m[1] };
      var inside = moved.l >= 0 && moved.t >= 0 && moved.r <= size.x && moved.b <= size.y;
      return inside && obstacles.every(function (o) { return !overlaps(moved, o); });
    });
  }

  // a legend shorter than this is no use: it folds instead
  var LEGEND_MIN_PX = 72;

  function keepAnswerClear() {
    if (!answer || !answer.popupOpen || moving) { return; }
    var origin = map.getContainer().getBoundingClientRect();
    var rect = answerRect(origin);
    if (!rect) { return; }
    var size = map.getSize();
    // the panel and every control on the map (the legend, levels, imagery switch, zoom, scale)
    var obstacles = function (withLegend) {
      var nodes = [panel].concat(Array.prototype.slice.call(
        map.getContainer().querySelectorAll('.leaflet-control')));
      return nodes.filter(function (node) { return withLegend || node !== legend; })
        .map(function (node) { return rectOf(node, origin); })
        .filter(function (r) { return r !== null; });
    };
    var move = clearingMoves(rect, obstacles(true), size)[0];
    if (!move && legend.open) {
      // no room for the whole legend: the answer goes as high as it may, and the legend, still
      // anchored at the bottom, gets what is left below it (it scrolls)
      var high = clearingMoves(rect, obstacles(false), size).sort(function (a, b) { return a[1] - b[1]; })[0];
      var box = rectOf(legend, origin);
      var room = high && box ? box.b - (rect.b + high[1]) - CLEAR_GAP : 0;
      if (room >= LEGEND_MIN_PX) {
        legend.style.maxHeight = Math.floor(room) + 'px';
        move = high;
      } else {
        legend.open = false;
        move = clearingMoves(rect, obstacles(true), size)[0];
      }
    }
    if (move && (move[0] || move[1])) { map.panBy([-move[0], -move[1]], { animate: false }); }
  }
  map.on('resize', function () { whenSettled(keepAnswerClear); });

  // --- the title bar: the level shown and the building in view ----------------------------------

  var whereLevel = document.getElementById('gm-where-level');
  var whereBuilding = document.getElementById('gm-where-building');
  var buildings = (cfg.buildings || []).map(function (b) {
    return { entry: b, box: L.latLngBounds(b.outline) };
  });

  function inOutline(outline, p) {
    var hit = false;
    for (var i = 0, j = outline.length - 1; i < outline.length; j = i++) {
      var yi = outline[i][0], xi = outline[i][1], yj = outline[j][0], xj = outline[j][1];
      if ((yi > p.lat) !== (yj > p.lat) && p.lng < (xj - xi) * (p.lat - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }

  // the answer's building; else, when several buildings are wholly in view, those; else the
  // one under the map's centre; else those partly in view
  function buildingsShown() {
    var id = answer && answer.candidate.building_id;
    var own = buildings.filter(function (b) { return b.entry.id === id; });
    if (own.length) { return own; }
    var view = map.getBounds();
    var whole = buildings.filter(function (b) { return view.contains(b.box); });
    if (whole.length > 1) { return whole; }
    var centre = map.getCenter();
    var under = buildings.filter(function (b) {
      return b.box.contains(centre) && inOutline(b.entry.outline, centre);
    });
    if (under.length) { return under.slice(0, 1); }
    return buildings.filter(function (b) { return view.intersects(b.box); });
  }

  function updateWhere() {
    if (currentOrdinal === null || !whereLevel) { return; }
    var shown = buildingsShown();
    var level = levelsByOrdinal[currentOrdinal];
    var levelText = level ? level.name : 'Level ' + currentOrdinal;
    var buildingText = '';
    var fullText = '';
    if (shown.length === 1) {
      var b = shown[0].entry;
      var own = b.levels[String(currentOrdinal)];
      var name = smallScreen() ? b.short : b.title;
      buildingText = own ? name : name + ': no ' + levelText;
      fullText = own ? b.title : b.title + ': no ' + levelText;
      if (own) { levelText = own; }
    } else if (shown.length > 1) {
      buildingText = shown.length <= 4 ? 'Buildings ' + shown.map(function (s) {
        return s.entry.letter || s.entry.title;
      }).join(', ') : shown.length + ' buildings';
    }
    whereLevel.textContent = levelText;
    whereBuilding.textContent = buildingText;
    whereBuilding.title = fullText || buildingText;
    whereBuilding.hidden = !buildingText;
  }
  map.on('moveend', updateWhere);
  levelListeners.push(updateWhere);

  function metres(d) {
    return typeof d === 'number' && isFinite(d) ? Math.round(d) + ' m' : '';
  }

  function levelName(item) {
    if (item.level_name) { return item.level_name; }
    if (typeof item.level_ordinal !== 'number') { return ''; }
    var lv = levelsByOrdinal[item.level_ordinal];
    return lv ? lv.name : 'Level ' + item.level_ordinal;
  }

  // "Building A, 1st Floor" (and "via Stair 2" when the answer is on another level)
  function whereText(item, c) {
    var bits = [];
    var building = item.building || item.building_id;
    if (building) { bits.push('Building ' + building); }
    var level = levelName(item);
    // another level when the answer says so, or when the ordinals differ (an answer made
    // without the candidate's level calls everything "same level")
    var other = item.same_level === false || (typeof item.level_ordinal === 'number' &&
      typeof c.level_ordinal === 'number' && item.level_ordinal !== c.level_ordinal);
    if (level) { bits.push(level + (other ? ' (other level)' : '')); }
    var text = bits.join(', ');
    if (item.via) { text += ' via ' + item.via; }
    return text;
  }

  function nearbyText(what, item, c) {
    var bits = [what + (item.name && item.name !== what ? ': ' + item.name : '')];
    if (item.cell) { bits.push('grid ' + item.cell); }
    var d = metres(item.distance_m);
    if (d) { bits.push(d + (item.distance_kind === 'walking' ? ' walk' : '')); }
    var where = whereText(item, c);
    if (where) { bits.push(where); }
    return bits.join(' · ');
  }

  function flagsOf(c) {
    var flags = Array.isArray(c.flags) ? c.flags.map(String) : [];
    if (c.approximate && flags.indexOf('label only, no outline') < 0) {
      flags.unshift('label only, no outline');
    }
    return flags;
  }

  // [{text, kind}] lines describing a candidate: where, flags, grid, every nearby item, USNG
  function details(c) {
    var lines = [];
    var where = [];
    if (c.building_name) { where.push(c.building_name); }
    if (c.level_name) { where.push(c.level_name); }
    if (c.unit_number || c.unit_name) {
      where.push([c.unit_number ? 'Room ' + c.unit_number : '', c.unit_name || ''].join(' ').trim());
    }
    if (where.length) { lines.push({ text: where.join(' · '), kind: 'where' }); }
    flagsOf(c).forEach(function (flag) { lines.push({ text: '⚠ ' + flag, kind: 'flag' }); });
    if (c.primary_cell) {
      var cells = Array.isArray(c.cells) && c.cells.length > 1 ? ' (spans ' + c.cells.join(', ') + ')' : '';
      lines.push({ text: 'Grid ' + c.primary_cell + (c.subcell ? ' (' + c.subcell + ')' : '') + cells,
        kind: 'grid' });
    }
    (Array.isArray(c.nearest_doors) ? c.nearest_doors : []).forEach(function (d) {
      var name = d.number ? 'Door ' + d.number : 'Exterior door';
      lines.push({ text: nearbyText(name, d, c), kind: 'nearby' });
    });
    [['nearest_knox_box', 'Knox box'], ['nearest_aed', 'AED'], ['nearest_trauma_kit', 'Trauma kit'],
      ['nearest_stairs', 'Stairs']].forEach(function (pair) {
      var item = c[pair[0]];
      if (item) { lines.push({ text: nearbyText(pair[1], item, c), kind: 'nearby' }); }
    });
    if (c.usng) { lines.push({ text: 'USNG ' + c.usng, kind: 'usng' }); }
    return lines;
  }

  // a popup's frame and tip add 44 px to its content: on a phone the whole stays on screen
  function popupWidth() {
    return Math.max(160, Math.min(340, map.getSize().x - 64));
  }

  // ... and on a short screen (a phone on its side) its text scrolls, so that the popup, the
  // pin and what the pin points at fit the map's height together (46 px: the frame and tip)
  function popupHeight(key, zoom) {
    var room = map.getSize().y - PIN_H - 2 * clearance(key, zoom) - 46 - 2 * CLEAR_GAP;
    return Math.max(120, room);
  }

  function select(c, item) {
    clearAnswer();
    // on a phone the list would cover the popup: fold it away (tap the search box for it again)
    results.classList.add('gm-collapsed');
    // switch level first: a level switch clears the answer (and the list's selection)
    if (typeof c.level_ordinal === 'number' && c.level_ordinal in layers) { setLevel(c.level_ordinal); }
    if (item) { item.classList.add('gm-selected'); }
    if (typeof c.lat !== 'number' || typeof c.lon !== 'number') { return; }
    var at = L.latLng(c.lat, c.lon);
    var popup = el('div', 'gm-popup');
    popup.appendChild(el('strong', null, c.label || c.unit_name || c.unit_number || 'Result'));
    details(c).forEach(function (line) { popup.appendChild(el('div', 'gm-line-' + line.kind, line.text)); });
    // a room's number is drawn centred on its point: the pin stands above it. A door or point
    // of interest is a symbol on its point (or moved beside it): a ring goes around every place
    // the symbol may be, the pin above the ring.
    var key = clearanceKey(c);
    var room = key === 'room';
    var zoom = Math.max(map.getZoom(), 20);
    var pin = L.marker(at, { icon: pinIcon(key), keyboard: false, title: c.label || '',
      alt: c.label || 'Search result', riseOnHover: true }).bindPopup(popup, {
      maxWidth: popupWidth(), maxHeight: popupHeight(key, zoom),
      autoPanPaddingTopLeft: L.point(10, 10) });
    var ring = room ? null : L.circleMarker(at, {
      // dashed: where it crosses a neighbouring label, that label still reads
      radius: clearance(key), weight: 3, color: '#0050d8', dashArray: '9 6', fill: false,
      interactive: false, className: 'gm-ring' });
    answer = { candidate: c, pin: pin, ring: ring, room: room, key: key, popupOpen: false };
    if (ring) { ring.addTo(map); }
    pin.addTo(map);
    var mine = answer;
    pin.on('popupopen', function () { mine.popupOpen = true; whenSettled(keepAnswerClear); });
    pin.on('popupclose', function () { mine.popupOpen = false; });
    var seq = answerSeq;
    map.once('moveend', function () {
      if (seq === answerSeq && answer === mine) { pin.openPopup(); }
    });
    map.flyTo(at, zoom, { duration: 0.8 });
    updateWhere();
  }

  function show(data, q) {
    clearAnswer();
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
      details(c).forEach(function (line) {
        btn.appendChild(el('span', 'gm-detail gm-line-' + line.kind, line.text));
      });
      btn.addEventListener('click', function () { select(c, li); });
      li.appendChild(btn);
      list.appendChild(li);
    });
    results.setAttribute('data-query', q);
    // one clear answer: go there; several: show them and let the user choose
    if (data.status === 'found' && candidates.length) { select(candidates[0], list.firstChild); }
  }

  function fail(text, q) {
    clearAnswer();
    list.textContent = '';
    results.hidden = false;
    statusLine.className = 'gm-status-error';
    statusLine.textContent = text;
    results.setAttribute('data-query', q);
  }

  function search(q) {
    q = (q || '').trim();
    clearAnswer();
    if (!q) { results.hidden = true; return Promise.resolve(); }
    if (inflight) { inflight.abort(); }
    var ctrl = window.AbortController ? new AbortController() : null;
    inflight = ctrl;
    statusLine.className = 'gm-status-busy';
    statusLine.textContent = 'Searching…';
    results.hidden = false;
    results.removeAttribute('data-query');
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
      if (inflight === ctrl) { inflight = null; show(data, q); }
    }).catch(function (err) {
      if (err && err.name === 'AbortError') { return; }
      if (inflight !== ctrl) { return; }  // a newer search owns the panel
      inflight = null;
      fail(err && err.message ? err.message : 'Lookup failed: is the server reachable?', q);
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

  updateWhere();

  window.gridmap = { map: map, layers: layers, setLevel: setLevel, search: search, config: cfg,
    level: function () { return currentOrdinal; },
    moving: function () { return moving; },
    answer: function () {
      return answer ? { label: answer.candidate.label, lat: answer.candidate.lat,
        lon: answer.candidate.lon, room: answer.room, clearance: answer.key } : null;
    } };
}());
