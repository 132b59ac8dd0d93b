/* gridmap workspace, step 1, upload: drop or choose files, each with its progress; the site
 * files and campus details.
 *
 * Each file's row shows its upload's percent; the server then tells it apart at once (201, or a
 * clear refusal), and a floor plan (a DXF or a zip of DXFs) is read in the background by an
 * analysis job (202): the row then shows "analysing n%", polled from the workspace
 * (GET /workspaces/{id}: each file's analysis), until it is ready (its drawings are shown) or
 * failed (the problem, and the file was not kept).
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var S = app.state, $ = app.$, el = app.el, clear = app.clear, api = app.api, toast = app.toast,
      base = app.base, enc = app.enc, sizeText = app.sizeText, drawingById = app.drawingById,
      refresh = app.refresh;

  // --- following the analysis jobs ------------------------------------------------------------

  // one poll of the workspace serves every row waiting for its drawings to be read
  var watchers = {};  // job id -> function (analysis state, workspace)
  var watching = null;

  function watchAnalysis(jobId, update) {
    watchers[jobId] = update;
    if (!watching) { watching = setTimeout(pollAnalyses, 300); }
  }

  async function pollAnalyses() {
    var w = null;
    try {
      w = await api('GET', base);
    } catch (err) {
      w = null;  // a moment offline: the next poll asks again
      if (err.status === 404 || err.status === 401 || err.status === 403) {
        watchers = {};  // the workspace is gone (or the sign-in ended): nothing to follow
        toast(err.message, true);
      }
    }
    if (w) {
      (w.analyses || []).forEach(function (a) {
        var update = watchers[a.job];
        if (update && update(a, w)) { delete watchers[a.job]; }
      });
      app.renderReading(w);
    }
    watching = Object.keys(watchers).length ? setTimeout(pollAnalyses, 500) : null;
  }

  function analysisText(a) {
    if (a.state === 'queued') { return 'waiting to be read…'; }
    if (a.state === 'analysing') { return 'analysing ' + (a.percent || 0) + '%'; }
    return a.state;
  }

  // resolves true when the file's drawings are read, false when they cannot be
  function followAnalysis(analysis, item, bar, status) {
    item.classList.add('ws-upload-analysing');
    item.dataset.analysis = analysis.state;
    bar.style.width = '0%';
    status.textContent = analysisText(analysis);
    return new Promise(function (resolve) {
      watchAnalysis(analysis.job, function (a, w) {
        item.dataset.analysis = a.state;
        if (a.state === 'queued' || a.state === 'analysing') {
          bar.style.width = (a.percent || 0) + '%';
          status.textContent = analysisText(a);
          status.title = a.message || '';
          return false;
        }
        item.classList.remove('ws-upload-analysing');
        if (a.state === 'ready') {
          var n = (w.drawings || []).filter(function (d) { return d.file_id === a.file_id; }).length;
          bar.style.width = '100%';
          status.textContent = 'read: ' + n + (n === 1 ? ' drawing' : ' drawings');
          status.title = '';
          item.classList.add('ws-upload-ok');
          resolve(true);
        } else {
          status.textContent = 'not kept';
          item.classList.add('ws-upload-failed');
          item.appendChild(el('p', { className: 'ws-error', role: 'alert',
                                     text: a.error || a.message || 'The drawing could not be read.' }));
          resolve(false);
        }
        return true;
      });
    });
  }

  // --- uploading --------------------------------------------------------------------------------

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
          status.textContent = pct < 100 ? 'uploading ' + pct + '%' : 'checking the file…';
        }
      });
      xhr.addEventListener('load', function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        var pending = data && data.analyses ? data.analyses.filter(function (a) {
          return a.state === 'queued' || a.state === 'analysing';
        }) : [];
        if (xhr.status >= 200 && xhr.status < 300 && pending.length) {
          // kept; its drawings are read by a job: follow it (one per file)
          followAnalysis(pending[0], item, bar, status).then(resolve);
        } else if (xhr.status >= 200 && xhr.status < 300) {
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
        .then(function () { toast('Campus details saved.'); app.loadEarthLayers(); })
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
        app.loadEarthLayers();
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
    var waiting = false;
    files.forEach(function (f) {
      var a = f.analysis;
      var busy = !!a && (a.state === 'queued' || a.state === 'analysing');
      waiting = waiting || busy;
      body.appendChild(el('tr', { 'data-file': f.id, 'data-analysis': a ? a.state : '' }, [
        el('td', { text: f.name }),
        el('td', { text: KIND_NAMES[f.kind] || f.kind || '' }),
        el('td', { text: sizeText(f.size) }),
        el('td', { className: f.error ? 'ws-error' : busy ? 'ws-muted' : 'ws-ok',
                   text: f.error || (busy ? analysisText(a) : 'read') }),
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
    // drawings still being read (an upload from another tab, or before a reload): the page
    // is loaded again once they are ready, and shows them
    files.forEach(function (f) {
      var a = f.analysis;
      if (a && a.job && (a.state === 'queued' || a.state === 'analysing') && !watchers[a.job]) {
        watchAnalysis(a.job, function (now) {
          if (now.state === 'queued' || now.state === 'analysing') { return false; }
          if (now.state === 'failed') { toast(now.name + ' was not kept: ' + now.error, true); }
          refresh();
          return true;
        });
      }
    });
    document.body.dataset.analysing = waiting ? 'true' : 'false';
    app.renderReading();  // step 2 says which files are still being read
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

  Object.assign(app, {
    setupUpload: setupUpload,
    renderFiles: renderFiles,
    autoSiteFiles: autoSiteFiles
  });
}(window.workspace));
