// The hub's maps: an offline base (background, a graticule around the data, the
// administrator's outlines GeoJSON and, if set, their tile server) under the layers a
// page adds. MapLibre GL JS 6 is vendored from npm into /static/vendor (no CDN).
import * as maplibregl from "/static/vendor/maplibre-gl/maplibre-gl.mjs";

export const SOURCE_COLOURS = {
  gps: "#1b7837",
  card: "#b2182b",
  checkin: "#762a83",
  entry: "#762a83",
  transit: "#2166ac",
  telecom: "#8c510a",
  unknown: "#4d4d4d",
};

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

// A map over `points` ([lon, lat]); resolves once the style and the base are in.
export function createMap(container, points, settings) {
  const extent = bounds(points.length ? points : [[126.978, 37.566]]);
  const map = new maplibregl.Map({
    container,
    style: baseStyle(settings.tile_url),
    bounds: [[extent[0], extent[1]], [extent[2], extent[3]]],
    fitBoundsOptions: { padding: 40, maxZoom: 16 },
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  return new Promise((resolve) => {
    map.on("load", async () => {
      map.addSource("graticule", { type: "geojson", data: graticule(extent) });
      map.addLayer({ id: "graticule", type: "line", source: "graticule", paint: { "line-color": "#d6d1c4", "line-width": 0.5 } });
      try {
        await addOutlines(map, settings.base_url);
      } catch (error) {
        console.warn("map outlines unavailable", error);
      }
      resolve(map);
    });
  });
}

export function colourBySource() {
  const match = ["match", ["get", "source"]];
  for (const [source, colour] of Object.entries(SOURCE_COLOURS)) {
    if (source !== "unknown") match.push(source, colour);
  }
  match.push(SOURCE_COLOURS.unknown);
  return match;
}
