/* The draft review page: fetch the diff's GeoJSON and draw it over the published map. */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('review-config').textContent);
  var colours = { added: '#1a7f37', removed: '#b50909', changed: '#b35c00' };
  function kindOf(props) {
    var first = props.changes[0];
    return first === 'added' || first === 'removed' ? first : 'changed';
  }
  var bounds = L.latLngBounds(cfg.bounds);
  var map = L.map('rv-map', { minZoom: cfg.zoom.min, maxZoom: cfg.zoom.max,
                               attributionControl: false });
  map.fitBounds(bounds);
  if (cfg.tile_url) {
    L.tileLayer(cfg.tile_url, { minZoom: cfg.zoom.min, maxZoom: cfg.zoom.max,
                                maxNativeZoom: cfg.zoom.max_native, opacity: 0.6 }).addTo(map);
  }
  fetch(cfg.geojson_url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json' } })
    .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
    .then(function (collection) {
      var layer = L.geoJSON(collection, {
        style: function (f) {
          var colour = colours[kindOf(f.properties)];
          var move = f.properties.change === 'move';
          return { color: colour, weight: move ? 2 : 3, dashArray: move ? '4 4' : null,
                   fillOpacity: 0.25 };
        },
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 7, color: colours[kindOf(f.properties)],
                                          weight: 3, fillOpacity: 0.5 });
        },
        onEachFeature: function (f, l) {
          // a summary holds names from a drawing: text, never markup (Leaflet parses a string)
          var tip = document.createElement('span');
          tip.textContent = f.properties.summary;
          l.bindTooltip(tip);
        }
      }).addTo(map);
      if (collection.features.length) { map.fitBounds(layer.getBounds().pad(0.2)); }
      document.body.setAttribute('data-drawn', String(collection.features.length));
    })
    .catch(function (err) {
      document.getElementById('rv-what').textContent += ' (the map could not load: ' +
        err.message + ')';
    });
}());
