// The hub's maps: an offline base (background, a graticule around the data, Korea's
// district boundaries with their names served by the hub per view, the administrator's
// outlines GeoJSON and, if set, their tile server or the operator's PMTiles street
// basemap) under the layers a page adds.
// MapLibre GL JS 6 is vendored from npm into /static/vendor (no CDN); with no `glyphs` URL
// in the style it draws the district names with the browser's own fonts.
import * as maplibregl from "/static/vendor/maplibre-gl/maplibre-gl.mjs";


// The path's palette, one for the hub and report.html (report.model.PALETTE), which the
// hub's stylesheet declares as CSS variables (--precise, --bus, ...).
export function colour(name) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  return value || "#7a828c";
}

// Metres per pixel at zoom 0 on the equator (MapLibre's 512-pixel tiles).
const METRES_PER_PIXEL_Z0 = 78271.517;

export function bounds(points) {
  let [west, south, east, north] = [180, 90, -180, -90];
  for (const [lon, lat] of points) {
    west = Math.min(west, lon);
    east = Math.max(east, lon);
    south = Math.min(south, lat);
    north = Math.max(north, lat);
  }
  return [west, south, east, north];
}

// Lines every `step` degrees around the data: a reference grid that needs no network.
export function graticule([west, south, east, north], step = 0.01) {
  // Wide enough to fill the map around the data at the zoom it opens with.
  const pad = Math.max(step * 20, 2 * (east - west), 2 * (north - south));
  const x0 = Math.floor((west - pad) / step) * step;
  const x1 = Math.ceil((east + pad) / step) * step;
  const y0 = Math.floor((south - pad) / step) * step;
  const y1 = Math.ceil((north + pad) / step) * step;
  const features = [];
  for (let x = x0; x <= x1 + 1e-9; x += step) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: [[x, y0], [x, y1]] } });
  }
  for (let y = y0; y <= y1 + 1e-9; y += step) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: [[x0, y], [x1, y]] } });
  }
  return { type: "FeatureCollection", features };
}

// A circle's radius in pixels at every zoom for a radius in metres at a latitude.
export function metresToPixels(property, latitude) {
  const atZoom0 = METRES_PER_PIXEL_Z0 * Math.cos((latitude * Math.PI) / 180);
  return ["interpolate", ["exponential", 2], ["zoom"],
    0, ["/", ["get", property], atZoom0],
    22, ["/", ["get", property], atZoom0 / 2 ** 22]];
}

function baseStyle(tileUrl) {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f1ec" } }],
  };
  if (tileUrl) {
    style.sources.tiles = { type: "raster", tiles: [tileUrl], tileSize: 256 };
    style.layers.push({ id: "tiles", type: "raster", source: "tiles" });
  }
  return style;
}

async function addOutlines(map, url) {
  if (!url) return;
  const answer = await fetch(url, { credentials: "same-origin" });
  if (!answer.ok) return;
  const outlines = await answer.json();
  if (!outlines.features || outlines.features.length === 0) return;
  map.addSource("outlines", { type: "geojson", data: outlines });
  map.addLayer({ id: "outline-fill", type: "fill", source: "outlines",
    filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#e3ded3", "fill-opacity": 0.6 } });
  map.addLayer({ id: "outline-line", type: "line", source: "outlines", paint: { "line-color": "#a39e93", "line-width": 1 } });
}

const EMPTY = { type: "FeatureCollection", features: [] };
const FINEST_ZOOM = 15; // the hub's outlines are the same past it (geography.outlines)

function within(inner, outer) {
  return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
}

// Korea's districts around the view: the hub answers a widened view at the level that
// suits the zoom; a new request only when the map leaves it or changes whole zoom.
function addDistricts(map, container, settings) {
  if (!settings.outlines_url) return Promise.resolve();
  const line = colour("district");
  map.addSource("districts", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "district-line", type: "line", source: "districts",
    filter: ["==", ["get", "role"], "area"], paint: { "line-color": line, "line-width": 0.8 } });
  map.addLayer({ id: "district-parent-line", type: "line", source: "districts",
    filter: ["==", ["get", "role"], "parent"], paint: { "line-color": line, "line-width": 2, "line-opacity": 0.8 } });
  map.addLayer({ id: "district-label", type: "symbol", source: "districts",
    filter: ["==", ["get", "role"], "label"],
    layout: { "text-field": ["get", "name"], "text-size": 12, "text-max-width": 8 },
    paint: { "text-color": "#5d6670", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } });
  let covered = null;
  let asked = 0;
  const refresh = async () => {
    const b = map.getBounds();
    const view = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    const whole = Math.min(Math.floor(map.getZoom()), FINEST_ZOOM);
    if (covered && covered.zoom === whole && within(view, covered.bbox)) return;
    const query = new URLSearchParams({ bbox: view.map((v) => v.toFixed(5)).join(","),
      zoom: map.getZoom().toFixed(2), lang: settings.language || "" });
    const ticket = ++asked;
    const answer = await fetch(`${settings.outlines_url}?${query}`, { credentials: "same-origin" });
    if (!answer.ok || ticket !== asked) return; // a later view's answer wins
    const outlines = await answer.json();
    covered = { bbox: outlines.bbox, zoom: outlines.zoom };
    map.getSource("districts").setData(outlines);
    // For the browser tests and anyone checking: what the base layer holds now.
    const labels = outlines.features.filter((f) => f.properties.role === "label");
    container.dataset.districtLevel = outlines.level || "";
    container.dataset.districtNames = labels.map((f) => f.properties.name).join("|");
    map.once("idle", () => {
      const shown = map.queryRenderedFeatures({ layers: ["district-label"] });
      container.dataset.renderedDistrictLabels = [...new Set(shown.map((f) => f.properties.name))].join("|");
    });
  };
  map.on("moveend", () => { refresh().catch((error) => console.warn("districts unavailable", error)); });
  return refresh();
}

// The operator's street basemap (a PMTiles archive the hub serves in byte ranges) under
// everything else, drawn with the Protomaps "light" style. Its two libraries are
// self-contained browser builds, loaded only when there is an archive.
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src, onload: resolve, onerror: reject });
    document.head.appendChild(script);
  });
}

let pmtilesProtocol = null;

async function addStreets(map, container, settings) {
  if (!settings.streets_url) return;
  await Promise.all([loadScript(settings.pmtiles_script), loadScript(settings.basemaps_script)]);
  if (!pmtilesProtocol) {
    pmtilesProtocol = new window.pmtiles.Protocol();
    maplibregl.addProtocol("pmtiles", pmtilesProtocol.tile);
  }
  const url = new URL(settings.streets_url, window.location.href).href;
  map.addSource("streets", { type: "vector", url: `pmtiles://${url}` });
  const flavor = window.basemaps.namedFlavor("light");
  const layers = window.basemaps.layers("streets", flavor, { lang: settings.language === "en" ? "en" : "ko" });
  // Under the graticule and the districts: the first layer after the background.
  const above = map.getStyle().layers[1]?.id;
  for (const layer of layers) {
    if (layer.type !== "background") map.addLayer(layer, above);
  }
  container.dataset.streetLayers = String(layers.length);
  map.once("idle", () => {
    const roads = map.queryRenderedFeatures({ layers: layers.filter((l) => l.id.startsWith("roads_")).map((l) => l.id) });
    container.dataset.renderedRoads = [...new Set(roads.map((f) => f.properties.name).filter(Boolean))].join("|");
  });
}

// A map over `points` ([lon, lat]); resolves once the style and the base are in.
export { maplibregl };

export function createMap(container, points, settings) {
  const extent = bounds(points.length ? points : [[126.978, 37.566]]);
  const map = new maplibregl.Map({
    container,
    style: baseStyle(settings.tile_url),
    bounds: [[extent[0], extent[1]], [extent[2], extent[3]]],
    fitBoundsOptions: { padding: 40, maxZoom: 16 },
    attributionControl: false,
    locale: settings.locale || {}, // the controls' titles in the page's language (basemap.py)
    // Keep the drawn map in the canvas after each frame, so that printing the page prints
    // it (the print stylesheet keeps the map; without this the printed canvas is blank).
    canvasContextAttributes: { preserveDrawingBuffer: true },
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  container.epitraceMap = map; // for the browser tests: the map's style and projection
  if (settings.attribution) {
    map.addControl(new maplibregl.AttributionControl({ compact: false, customAttribution: settings.attribution }), "bottom-right");
  }
  return new Promise((resolve) => {
    map.on("load", async () => {
      map.addSource("graticule", { type: "geojson", data: graticule(extent) });
      map.addLayer({ id: "graticule", type: "line", source: "graticule", paint: { "line-color": "#d6d1c4", "line-width": 0.5 } });
      try {
        await addDistricts(map, container, settings);
      } catch (error) {
        console.warn("districts unavailable", error);
      }
      try {
        await addOutlines(map, settings.base_url);
      } catch (error) {
        console.warn("map outlines unavailable", error);
      }
      try {
        await addStreets(map, container, settings);
      } catch (error) {
        console.warn("street basemap unavailable", error);
      }
      resolve(map);
    });
  });
}

// A MapLibre expression: the palette's colour named by a feature's `property` (a stay's
// "evidence", a move's "mode_class").
export function colourBy(property, names) {
  const match = ["match", ["get", property]];
  for (const name of names) match.push(name, colour(name));
  match.push(colour("unknown"));
  return match;
}
