/* gridmap workspace, step 5, fix in place: rooms, outside doors and the main entrance, safety
 * points.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var cfg = app.cfg, S = app.state, $ = app.$, el = app.el, clear = app.clear, api = app.api,
      toast = app.toast, base = app.base, refresh = app.refresh, markSteps = app.markSteps;

  function setupFix() {
    var tabs = Array.prototype.slice.call(document.querySelectorAll('.ws-tabs [role=tab]'));
    tabs.forEach(function (tab, i) {
      tab.addEventListener('click', function () { showTab(tab.dataset.tab); });
      // the arrow keys (and Home, End) move between the tabs, as in any tab list
      tab.addEventListener('keydown', function (ev) {
        var to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
        if (to === undefined) { return; }
        ev.preventDefault();
        var next = tabs[(to + tabs.length) % tabs.length];
        showTab(next.dataset.tab);
        next.focus();
      });
    });
    $('ws-room-filter').addEventListener('input', renderRooms);
    $('ws-save-doors').addEventListener('click', saveDoors);
    var kinds = $('ws-place-kind');
    cfg.placeable.forEach(function (p) { kinds.appendChild(el('option', { value: p.kind, text: p.label })); });
    $('ws-place').addEventListener('click', function () {
      if (S.placing) { stopPlacing(); return; }
      S.placing = { kind: kinds.value, name: $('ws-place-name').value.trim() };
      $('ws-place').textContent = 'Cancel';
      $('ws-place-hint').textContent = 'Click the map where the ' + app.kindLabel(S.placing.kind) +
        ' is, or move the map until the cross is on it and press Place at the cross.';
      $('ws-place-centre').hidden = false;
      if (app.pv.map) { app.pv.map.closePopup(); }  // a finding's popup would hide the spot
      $('ws-preview').classList.add('ws-placing');
      $('ws-preview').scrollIntoView({ block: 'center', behavior: 'smooth' });
    });
    // without a pointer (the keyboard: the map's arrow keys move it) or a finger too broad for
    // the spot: the point goes where the cross in the middle of the map is
    $('ws-place-centre').addEventListener('click', function () {
      if (S.placing && app.pv.map) { placeAt(app.pv.map.getCenter()); }
    });
  }

  function stopPlacing() {
    S.placing = null;
    $('ws-place').textContent = 'Place on the map';
    $('ws-place-hint').textContent = '';
    $('ws-place-centre').hidden = true;
    $('ws-preview').classList.remove('ws-placing');
  }

  function showTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll('.ws-tabs [role=tab]'), function (tab) {
      tab.setAttribute('aria-selected', tab.dataset.tab === name ? 'true' : 'false');
      tab.tabIndex = tab.dataset.tab === name ? 0 : -1;  // Tab reaches the chosen tab only
    });
    Array.prototype.forEach.call(document.querySelectorAll('#ws-fix [data-panel]'), function (p) {
      p.hidden = p.dataset.panel !== name;
    });
  }

  function levelText(p) {
    var b = app.featuresOf('building').find(function (f) { return f.id === p.building_id; });
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
    var units = app.featuresOf('unit').slice().sort(function (a, b) {
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
    var f = app.featuresOf('unit').find(function (u) { return u.id === id; });
    if (!f) { return; }
    S.selectedUnit = id;
    if (fromMap || edit) { S.editingUnit = id; }
    showTab('rooms');
    if (f.properties.ordinal !== S.ordinal) { app.setOrdinal(f.properties.ordinal); } else { app.drawLevel(); }
    if (!fromMap && app.pv.unitLayers[id]) { app.pv.map.fitBounds(app.pv.unitLayers[id].getBounds(), { maxZoom: 20, padding: [60, 60] }); }
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
    app.featuresOf('opening').filter(function (f) { return f.properties.exterior; }).sort(function (a, b) {
      return naturalKey(a.properties.number).localeCompare(naturalKey(b.properties.number));
    }).forEach(function (f) {
      var p = f.properties;
      // a button, not a radio: the arrow keys walking a radio group would set every door
      // passed on the way as the main entrance, each a new draft
      var main = p.main_entrance
        ? el('strong', { className: 'ws-main-door', text: 'Main entrance' })
        : el('button', { type: 'button', className: 'ws-quiet', 'data-action': 'main-entrance',
                         text: 'Make main', 'aria-label': 'Make door ' + (p.number || '') + ' the main entrance',
                         onclick: function () {
                           main.disabled = true;
                           applyEdits([{ op: 'main_entrance', opening_id: f.id }], 'Main entrance set')
                             .catch(function (err) { main.disabled = false; toast(err.message, true); });
                         } });
      var number = el('input', { value: p.number || '', maxlength: 10, size: 5, 'data-field': 'door-number',
                                 'aria-label': 'Door number' });
      var lock = el('input', { type: 'checkbox', checked: f.id in locked, 'aria-label': 'Lock door ' + (p.number || '') });
      number.addEventListener('input', function () { lock.checked = true; });
      var row = el('tr', { 'data-opening': f.id, 'data-original': p.number || '' }, [
        el('td', {}, [main]), el('td', {}, [number]), el('td', {}, [lock]), el('td', { text: levelText(p) })]);
      row.addEventListener('click', function (ev) {
        if (ev.target.tagName !== 'INPUT' && ev.target.tagName !== 'BUTTON') { selectDoor(f.id); }
      });
      body.appendChild(row);
    });
  }

  function selectDoor(id) {
    showTab('doors');
    var f = app.featuresOf('opening').find(function (o) { return o.id === id; });
    if (!f) { return; }
    if (f.properties.ordinal !== S.ordinal) { app.setOrdinal(f.properties.ordinal); }
    var c = f.geometry.coordinates;
    app.pv.highlight.clearLayers();
    L.circleMarker([c[1], c[0]], { radius: 16, color: '#d9480f', weight: 3, fill: false, className: 'ws-pulse' }).addTo(app.pv.highlight);
    app.pv.map.setView([c[1], c[0]], Math.max(app.pv.map.getZoom(), 19));
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
    var edit = { op: 'place', kind: placing.kind, name: placing.name || app.kindLabel(placing.kind), lonlat: lonlat };
    var building = app.featuresOf('building').find(function (b) {
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
      await applyEdits([edit], app.kindLabel(edit.kind) + ' placed');
    } catch (err) { toast(err.message, true); }
  }

  function renderPoints() {
    var list = clear($('ws-points'));
    var amenities = app.featuresOf('amenity');
    if (!amenities.length) { list.appendChild(el('li', { className: 'ws-muted', text: 'No safety points yet.' })); }
    amenities.forEach(function (f) {
      var p = f.properties;
      list.appendChild(el('li', { 'data-amenity': f.id }, [
        el('span', { className: 'ws-amenity ws-amenity-' + p.kind, text: app.amenityCode(p.kind) }),
        el('span', { text: app.kindLabel(p.kind) + (p.name && p.name !== app.kindLabel(p.kind) ? ': ' + p.name : '') }),
        el('span', { className: 'ws-muted', text: p.level_name ? ' · ' + p.level_name : ' · outdoors' }),
        el('button', { type: 'button', className: 'ws-quiet', text: 'Remove',
                       onclick: function () {
                         applyEdits([{ op: 'remove_point', amenity_id: f.id }], app.kindLabel(p.kind) + ' removed')
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
    await app.loadFeatures();
    renderFix();
    await app.renderPublish();
    toast(what + '. Draft revision ' + S.ws.draft_revision + '.');
    document.body.dataset.edits = String((Number(document.body.dataset.edits) || 0) + 1);
    return result;
  }

  Object.assign(app, {
    setupFix: setupFix,
    renderFix: renderFix,
    selectUnit: selectUnit,
    selectDoor: selectDoor,
    placeAt: placeAt,
    pointInRing: pointInRing
  });
}(window.workspace));
