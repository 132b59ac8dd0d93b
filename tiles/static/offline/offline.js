/* gridmap offline viewer: opens from file:// with no server and no network.
 *
 * The package's parts arrive as <script> files (data/*.js) holding base64, because Chromium
 * refuses fetch/XHR of file:// URLs. A sealed package's parts are AES-256-GCM ciphertexts,
 * opened here with WebCrypto once the officer types the passphrase (see tiles/seal.py).
 * Tiles come from one PMTiles archive read through a pmtiles Source over the in-memory bytes;
 * each tile image stacks one slot per layer (imagery, then each level), and the map draws the
 * slot of the level shown (tiles/package.py explains the encoding).
 *
 * For tests and for the curious, <body> says where the viewer is: data-state (loading, locked,
 * ready, error), data-level (the ordinal shown) and data-tiles (loading, loaded).
 */
(function () {
  'use strict';

  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const parts = window.GRIDMAP_PARTS || {};
  const seal = window.GRIDMAP_SEAL || null;
  // decoded stacked tiles kept (each is 256 x 256 px per slot, 4 bytes a pixel: ~0.8 MB with
  // three slots), enough for a screen and its imagery ancestors
  const BITMAP_CACHE = 96;

  function showError(message) {
    const el = $('gm-error');
    el.textContent = message;
    el.hidden = false;
    body.dataset.state = 'error';
  }

  window.addEventListener('error', (e) => showError('The viewer failed: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => showError('The viewer failed: ' + (e.reason && e.reason.message || e.reason)));

  function bytesOf(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function unsealed(passphrase) {
    const enc = new TextEncoder();
    const base = await crypto.subtle.importKey('raw', enc.encode(passphrase.normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
    const key = await crypto.subtle.deriveKey(
      {name: 'PBKDF2', hash: 'SHA-256', salt: bytesOf(seal.salt), iterations: seal.iterations},
      base, {name: 'AES-GCM', length: 256}, false, ['decrypt']);
    const out = {};
    for (const name of Object.keys(parts)) {
      const plain = await crypto.subtle.decrypt(
        {name: 'AES-GCM', iv: bytesOf(seal.nonces[name]), additionalData: enc.encode(name), tagLength: 128},
        key, bytesOf(parts[name]));
      out[name] = new Uint8Array(plain);
    }
    return out;
  }

  /** A pmtiles Source over bytes already in memory. */
  class MemorySource {
    constructor(bytes) { this.bytes = bytes; }
    getKey() { return 'gridmap-package'; }
    async getBytes(offset, length) {
      const start = this.bytes.byteOffset + offset;
      return {data: this.bytes.buffer.slice(start, start + length)};
    }
  }

  function json(bytes) {
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  async function start(data) {
    const meta = json(data.meta);
    const search = GridmapSearch.create(json(data.places));
    const archive = new pmtiles.PMTiles(new MemorySource(data.tiles));
    const info = await archive.getMetadata();
    const slots = info['gridmap:slots'];
    const slotSize = info['gridmap:slot_size'];
    const imagerySlot = slots.find((s) => s.layer === 'imagery');
    const levelSlot = new Map(slots.filter((s) => s.layer === 'level').map((s) => [s.ordinal, s.slot]));

    document.title = meta.campus.name + ' - gridmap offline';
    $('gm-title').textContent = meta.campus.name;
    $('gm-facts').textContent = `Revision ${meta.revision} · packaged ${meta.made} · grid cells ` +
      `${meta.grid.cell_size} ${meta.grid.unit}` + (meta.campus.address ? ` · ${meta.campus.address}` : '');

    const map = L.map('gm-map', {minZoom: meta.zoom.min, maxZoom: meta.zoom.max, zoomSnap: 1,
      maxBounds: L.latLngBounds(meta.bounds).pad(0.5)});
    map.attributionControl.setPrefix(false);
    map.fitBounds(meta.bounds);

    const sheets = new Map(); // least recently used first
    function sheet(z, x, y) {
      const k = `${z}/${x}/${y}`;
      let found = sheets.get(k);
      if (found === undefined) {
        if (sheets.size >= BITMAP_CACHE) sheets.delete(sheets.keys().next().value);
        found = archive.getZxy(z, x, y).then((tile) => (tile && tile.data
          ? createImageBitmap(new Blob([tile.data], {type: 'image/png'})) : null));
      } else {
        sheets.delete(k);
      }
      sheets.set(k, found);
      return found;
    }

    /** Where a tile's imagery is: its own imagery slot up to the imagery's zoom, else the
     * matching part of its ancestor's at that zoom, enlarged (see tiles/package.py). */
    function imageryOf(coords) {
      const depth = Math.max(0, coords.z - imagerySlot.max_zoom);
      const part = 1 << depth;
      const side = slotSize / part;
      return sheet(coords.z - depth, coords.x >> depth, coords.y >> depth).then((bitmap) => (
        bitmap && bitmap.height > imagerySlot.slot * slotSize ? {
          bitmap, side, sx: (coords.x % part) * side,
          sy: imagerySlot.slot * slotSize + (coords.y % part) * side,
        } : null));
    }

    let ordinal = meta.default_ordinal;
    let imageryOn = Boolean(imagerySlot);
    const StackedLayer = L.GridLayer.extend({
      createTile(coords, done) {
        const canvas = L.DomUtil.create('canvas', 'leaflet-tile');
        canvas.width = slotSize;
        canvas.height = slotSize;
        canvas.dataset.zxy = `${coords.z}/${coords.x}/${coords.y}`;
        canvas.dataset.ordinal = String(ordinal);
        const slot = levelSlot.get(ordinal);
        const photo = imagerySlot && imageryOn ? imageryOf(coords) : Promise.resolve(null);
        Promise.all([sheet(coords.z, coords.x, coords.y), photo]).then(([bitmap, under]) => {
          const ctx = canvas.getContext('2d');
          if (under) {
            ctx.drawImage(under.bitmap, under.sx, under.sy, under.side, under.side, 0, 0, slotSize, slotSize);
          }
          if (bitmap) {
            ctx.drawImage(bitmap, 0, slot * slotSize, slotSize, slotSize, 0, 0, slotSize, slotSize);
          }
          canvas.dataset.drawn = bitmap ? 'tile' : 'empty';
          done(null, canvas);
        }, (err) => done(err, canvas));
        return canvas;
      },
    });
    const layer = new StackedLayer({minNativeZoom: meta.zoom.min, maxNativeZoom: meta.zoom.max_native,
      minZoom: meta.zoom.min, maxZoom: meta.zoom.max, tileSize: 256, keepBuffer: 1,
      bounds: L.latLngBounds(meta.bounds).pad(0.1)});
    layer.on('loading', () => { body.dataset.tiles = 'loading'; });
    layer.on('load', () => { body.dataset.tiles = 'loaded'; });
    body.dataset.tiles = 'loading';
    layer.addTo(map);

    // level switcher
    const buttons = new Map();
    const Levels = L.Control.extend({
      onAdd() {
        const box = L.DomUtil.create('div', 'gm-levels leaflet-bar');
        box.setAttribute('role', 'group');
        box.setAttribute('aria-label', 'Level');
        for (const level of [...meta.levels].reverse()) {
          const b = L.DomUtil.create('button', '', box);
          b.type = 'button';
          b.textContent = level.name;
          b.dataset.ordinal = String(level.ordinal);
          b.addEventListener('click', () => setLevel(level.ordinal));
          buttons.set(level.ordinal, b);
        }
        if (imagerySlot) {
          const label = L.DomUtil.create('label', 'gm-imagery', box);
          const box2 = L.DomUtil.create('input', '', label);
          box2.type = 'checkbox';
          box2.checked = imageryOn;
          box2.id = 'gm-imagery-toggle';
          label.append(' Imagery');
          box2.addEventListener('change', () => { imageryOn = box2.checked; layer.redraw(); });
        }
        L.DomEvent.disableClickPropagation(box);
        return box;
      },
    });
    new Levels({position: 'topright'}).addTo(map);

    function setLevel(next) {
      ordinal = next;
      body.dataset.level = String(next);
      for (const [o, b] of buttons) b.setAttribute('aria-pressed', String(o === next));
      body.dataset.tiles = 'loading';
      layer.redraw();
    }
    setLevel(ordinal);

    // legend: the web map's, folded on a small screen where it would hide the map
    const Legend = L.Control.extend({
      options: {position: 'bottomright'},
      onAdd() {
        const box = L.DomUtil.create('details', 'gm-legend');
        box.id = 'gm-legend';
        box.open = !window.matchMedia('(max-width: 700px), (max-height: 560px)').matches;
        L.DomUtil.create('summary', '', box).textContent = 'Legend';
        const list = L.DomUtil.create('ul', '', box);
        for (const item of meta.legend) {
          const li = L.DomUtil.create('li', '', list);
          const swatch = L.DomUtil.create('span', `gm-swatch gm-swatch-${item.shape}`, li);
          swatch.textContent = item.text || '';
          if (item.shape === 'line') {
            swatch.style.borderTopColor = item.fill;
          } else {
            swatch.style.backgroundColor = item.fill;
            swatch.style.borderColor = item.outline;
            if (item.text_colour) swatch.style.color = item.text_colour;
          }
          L.DomUtil.create('span', 'gm-legend-label', li).textContent = item.label;
        }
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      },
    });
    new Legend().addTo(map);

    // search
    let pin = null;
    function show(c) {
      $('gm-detail').textContent = c.type === 'cell' ? '' : GridmapSearch.answerLine(c);
      if (c.ordinal !== null && c.ordinal !== undefined && levelSlot.has(c.ordinal) && c.ordinal !== ordinal) {
        setLevel(c.ordinal);
      }
      if (pin) pin.remove();
      pin = c.outline
        ? L.polygon(c.outline, {color: '#d00', weight: 3, fill: false}).addTo(map)
        : L.circleMarker([c.lat, c.lon], {radius: 26, color: '#d00', weight: 3, fill: false}).addTo(map);
      pin.bindTooltip(c.label, {direction: 'top', offset: c.outline ? [0, 0] : [0, -26]});
      // no animation: the tiles of the answer's view are asked for at once, so data-tiles
      // says 'loaded' only once they are drawn
      body.dataset.tiles = 'loading';
      map.setView([c.lat, c.lon], Math.max(map.getZoom(), Math.min(19, meta.zoom.max)), {animate: false});
    }
    $('gm-search').hidden = false;
    $('gm-search').addEventListener('submit', (e) => {
      e.preventDefault();
      const answer = search.lookup($('gm-q').value, 10);
      const list = $('gm-list');
      list.replaceChildren();
      $('gm-status').textContent = answer.message;
      $('gm-results').hidden = false;
      $('gm-results').dataset.status = answer.status;
      for (const c of answer.candidates) {
        const li = document.createElement('li');
        li.textContent = c.label;
        li.dataset.id = c.id || '';
        li.tabIndex = 0;
        li.addEventListener('click', () => show(c));
        list.append(li);
      }
      if (pin) { pin.remove(); pin = null; }
      $('gm-detail').textContent = '';
      if (answer.candidates.length) show(answer.candidates[0]);
    });

    if (meta.book) {
      const link = $('gm-book-link');
      if (meta.book === 'part') {
        link.href = URL.createObjectURL(new Blob([data.book], {type: 'application/pdf'}));
        link.download = `${meta.campus.id}-book.pdf`;
      } else {
        link.href = meta.book;
      }
      $('gm-book').hidden = false;
    }
    body.dataset.state = 'ready';
  }

  if (!parts.meta || !parts.tiles || !parts.places) {
    showError('This package is incomplete: its data/ folder is missing. Unzip the whole package.');
    return;
  }
  if (seal === null) {
    const data = {};
    for (const name of Object.keys(parts)) data[name] = bytesOf(parts[name]);
    start(data);
    return;
  }
  body.dataset.state = 'locked';
  const form = $('gm-unlock');
  form.hidden = false;
  $('gm-passphrase').focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('gm-unlock-error');
    error.hidden = true;
    $('gm-open').disabled = true;
    body.dataset.state = 'opening';
    if (!window.crypto || !crypto.subtle) {
      error.textContent = 'This browser cannot open sealed packages (no WebCrypto here).';
      error.hidden = false;
      $('gm-open').disabled = false;
      body.dataset.state = 'locked';
      return;
    }
    let data;
    try {
      data = await unsealed($('gm-passphrase').value);
    } catch (err) {
      error.textContent = 'Wrong passphrase: the package stays sealed. Check it and try again.';
      error.hidden = false;
      $('gm-open').disabled = false;
      $('gm-passphrase').select();
      body.dataset.state = 'locked';
      return;
    }
    $('gm-passphrase').value = '';
    form.hidden = true;
    await start(data);
  });
}());
