/* gridmap workspace, step 6, publish: compare the draft with the published revision, publish,
 * record a walk-through.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var cfg = app.cfg, S = app.state, $ = app.$, el = app.el, clear = app.clear, api = app.api,
      toast = app.toast, enc = app.enc, refresh = app.refresh, markSteps = app.markSteps;

  var diffMap = null;
  var diffLayer = null;
  var diffColours = { added: '#1a7f37', removed: '#b50909', changed: '#b35c00' };
  var diffParts = {};  // a changed part's id -> its shape on the changes map
  var diffSeq = 0;

  // today where the editor is (an ISO date of the UTC day is tomorrow on an American evening)
  function localToday() {
    var d = new Date();
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate());
  }

  function setupPublish() {
    $('ws-publish-btn').addEventListener('click', publish);
    var items = $('ws-v-items');
    cfg.checklist.forEach(function (text, i) {
      items.appendChild(el('label', { className: 'ws-check' }, [
        el('input', { type: 'checkbox', value: text, 'data-item': i }), ' ' + text]));
    });
    $('ws-v-date').value = localToday();
    $('ws-v-date').max = localToday();  // a walk-through already done
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
    var campus = await app.campusStatus();
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
          var item = el('button', { type: 'button', className: 'ws-diff-item', 'data-change': c.id,
                                    text: c.summary, title: 'Show on the map',
                                    onclick: function () { showChange(c.id, item); } });
          list.appendChild(el('li', { className: 'ws-diff-' + css }, [item]));
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
    // the workspace's uploaded photo goes with the publish (the import report names it)
    var photo = S.report && S.report.imagery;
    $('ws-publish-photo').hidden = !photo || info.published;
    if (photo) {
      $('ws-publish-photo').textContent = 'Publishing also makes the photo ' + photo.name +
        ' the campus\'s aerial imagery (on the officers\' map, the printed book and the packages).';
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
      diffMap = L.map('ws-diffmap', { maxZoom: cfg.zoom.max, attributionControl: false, zoomSnap: 0.5,
                                      dragging: !L.Browser.mobile });  // a phone: two fingers move it
      diffMap.setView([20, 0], 2);
    }
    var url = diff.links && diff.links.geojson;
    if (!url) { return; }
    var seq = ++diffSeq;
    api('GET', url).then(function (fc) {
      if (seq !== diffSeq) { return; }  // a later draft's changes are on their way
      if (diffLayer) { diffMap.removeLayer(diffLayer); }
      diffParts = {};
      var under = L.geoJSON({ type: 'FeatureCollection', features: app.featuresOf('building') }, {
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
        onEachFeature: function (f, layer) {
          layer.bindTooltip(el('span', { text: f.properties.summary }));
          if (f.properties.id && String(f.id).slice(-5) !== ':move') { diffParts[f.properties.id] = layer; }
        }
      }).addTo(diffLayer);
      var bounds = diffLayer.getBounds();
      if (bounds.isValid()) { diffMap.fitBounds(bounds, { padding: [16, 16] }); }
    }).catch(function () { /* the list says enough */ });
  }

  // a change in the list, clicked: its part framed on the map, its summary shown there
  function showChange(id, item) {
    var layer = diffParts[id];
    Array.prototype.forEach.call(document.querySelectorAll('.ws-diff-item.ws-current'), function (b) {
      b.classList.remove('ws-current');
    });
    item.classList.add('ws-current');
    if (!layer || !diffMap) { return; }
    if (layer.getBounds) {
      diffMap.fitBounds(layer.getBounds(), { padding: [40, 40], maxZoom: 20, animate: false });
    } else {
      diffMap.setView(layer.getLatLng(), Math.max(diffMap.getZoom(), 19), { animate: false });
    }
    layer.openTooltip();
    $('ws-diffmap').dataset.shown = id;
    var box = $('ws-diffmap').getBoundingClientRect();
    if (box.top < 48 || box.bottom > window.innerHeight) { $('ws-diffmap').scrollIntoView({ block: 'center' }); }
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

  Object.assign(app, {
    setupPublish: setupPublish,
    renderPublish: renderPublish,
    diffMap: function () { return diffMap; }  // for the browser tests
  });
}(window.workspace));
