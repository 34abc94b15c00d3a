// The case page: the path on the map (stays as circles sized by their radius and
// coloured by their best evidence, moves as lines) and the zoomable timeline.
import { colourBySource, createMap, metresToPixels } from "./map.js";
import { Timeline } from "./timeline.js";

const data = JSON.parse(document.getElementById("case-map-data").textContent);
const container = document.getElementById("case-map");
const timelineBox = document.getElementById("case-timeline");

function stayFeatures(stays) {
  return {
    type: "FeatureCollection",
    features: stays.map((s) => ({
      type: "Feature",
      properties: { seq: s.seq, source: s.source, radius_m: Math.max(s.radius_m, 1), place_name: s.place_name || "" },
      geometry: { type: "Point", coordinates: [s.lon, s.lat] },
    })),
  };
}

function moveFeatures(moves) {
  return {
    type: "FeatureCollection",
    features: moves.filter((m) => m.coordinates.length > 1).map((m) => ({
      type: "Feature", properties: { mode: m.mode }, geometry: { type: "LineString", coordinates: m.coordinates },
    })),
  };
}

function drawPath(map) {
  const latitude = data.stays.length ? data.stays[0].lat : 37.5;
  map.addSource("moves", { type: "geojson", data: moveFeatures(data.moves) });
  map.addLayer({ id: "moves", type: "line", source: "moves", paint: { "line-color": "#444444", "line-width": 2, "line-dasharray": [2, 1] } });
  map.addSource("stays", { type: "geojson", data: stayFeatures(data.stays) });
  map.addLayer({ id: "stay-area", type: "circle", source: "stays", paint: {
    "circle-radius": metresToPixels("radius_m", latitude),
    "circle-color": colourBySource(), "circle-opacity": 0.18,
    "circle-stroke-color": colourBySource(), "circle-stroke-width": 1.5 } });
  map.addLayer({ id: "stay-centre", type: "circle", source: "stays", paint: {
    "circle-radius": 5, "circle-color": colourBySource(), "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } });
  map.on("click", "stay-centre", (event) => {
    const seq = event.features[0].properties.seq;
    document.getElementById(`stay-${seq}`)?.scrollIntoView({ behavior: "smooth", block: "center" });
  });
  map.on("mouseenter", "stay-centre", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "stay-centre", () => { map.getCanvas().style.cursor = ""; });
  // For the browser tests and for anyone checking: how many stays the map really drew.
  map.once("idle", () => {
    const drawn = new Set(map.queryRenderedFeatures({ layers: ["stay-centre"] }).map((f) => f.properties.seq));
    container.dataset.renderedStays = String(drawn.size);
  });
}

// The map opens on every stay's whole circle (its radius), not only on the centres.
const METRES_PER_DEGREE = 111320;
function circleCorners(stay) {
  const dLat = stay.radius_m / METRES_PER_DEGREE;
  const dLon = dLat / Math.max(Math.cos((stay.lat * Math.PI) / 180), 0.01);
  return [[stay.lon - dLon, stay.lat - dLat], [stay.lon + dLon, stay.lat + dLat]];
}
const points = [...data.stays.flatMap(circleCorners), ...data.moves.flatMap((m) => m.coordinates)];
createMap(container, points, data).then(drawPath);
const timeline = new Timeline(timelineBox, data, data.labels);
timeline.bindButtons(document.querySelectorAll("button[data-zoom]"));
