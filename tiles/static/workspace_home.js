/* gridmap workspace, the list page: the organisation's workspaces and a new one.
 *
 * Loaded after workspace_core.js, which makes the namespace (window.workspace) every file of
 * the page shares; see there. What the other files call of this one is put on the namespace
 * at the end; what this file calls of another step goes through it (app.name), so the files
 * only need to be loaded, in any order after the core, before the page starts.
 */
(function (app) {
  'use strict';

  var $ = app.$, el = app.el, clear = app.clear, api = app.api, enc = app.enc,
      stateText = app.stateText;

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

  Object.assign(app, {
    homePage: homePage
  });
}(window.workspace));
