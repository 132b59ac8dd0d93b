/* gridmap workspace, step 2, understand the drawing: the proposed layers and units of each
 * drawing, its preview, confirm.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var S = app.state, $ = app.$, el = app.el, api = app.api, base = app.base, enc = app.enc,
      ROLES = app.ROLES, OTHER_COLOUR = app.OTHER_COLOUR, UNITS = app.UNITS,
      drawings = app.drawings, drawingById = app.drawingById, saveDrawing = app.saveDrawing,
      markSteps = app.markSteps, ordinalName = app.ordinalName;

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

  // the files whose drawings are still being read (the analysis job of an upload), as the
  // workspace w (by default the page's) says
  function renderReading(w) {
    w = w || S.ws;
    if (!w) { return; }
    var reading = (w.files || []).filter(function (f) {
      return f.analysis && (f.analysis.state === 'queued' || f.analysis.state === 'analysing');
    }).map(function (f) { return f.name; });
    var note = $('ws-no-drawings');
    note.textContent = reading.length
      ? 'Reading ' + reading.join(', ') + '… (its progress is in step 1); its layers are shown here once read.'
      : 'Upload a drawing first.';
    note.hidden = drawings().length > 0 && !reading.length;
  }

  function renderDrawings() {
    var box = $('ws-drawings');
    var ds = drawings();
    renderReading();
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
        app.renderGeorefChoice();
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
          // a block insert is a symbol (a door, a fixture) drawn as a dot: its block's name
          // written at every door only hides the plan
          if (f.properties && f.properties.text && f.properties.entity !== 'INSERT' &&
              collection.features.length < 6000) {
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
    if (!card.map) {
      card.map = planMap(card.mapNode);
      // on a phone one finger scrolls the page past the preview; two move the plan
      if (L.Browser.mobile) { card.map.dragging.disable(); }
    }
    card.groups = drawLayerGroups(card.map, preview, function (name) { return cardStyle(id, name); });
    styleCardPreview(id);
    var d = drawingById(id);
    var b = d && d.bounds;
    // framed on what the proposed layers hold (the building), not the whole sheet with its
    // title block and notes; the editor zooms out for the rest
    var proposed = L.featureGroup(Object.keys(card.groups).filter(function (name) {
      var role = roleOfLayer(id, name);
      return role && ['rooms', 'labels', 'doors', 'outline'].indexOf(role.key) >= 0;
    }).map(function (k) { return card.groups[k]; }));
    var framed = proposed.getLayers().length ? proposed.getBounds() : null;
    if (framed && framed.isValid()) {
      card.map.fitBounds(framed, { padding: [12, 12], animate: false });
    } else if (b && isFinite(b[0])) {
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

  Object.assign(app, {
    renderDrawings: renderDrawings,
    renderReading: renderReading,
    planMap: planMap,
    planLatLng: planLatLng,
    loadPreview: loadPreview,
    drawLayerGroups: drawLayerGroups,
    roleOfLayer: roleOfLayer,
    TextIcon: TextIcon
  });
}(window.workspace));
