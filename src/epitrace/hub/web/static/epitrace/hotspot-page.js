// The hotspot page: each cluster as a circle of its radius named by its number and the
// district of its centre, the cases' events as dots, over the district boundaries. A
// suspected outbreak area (p below the hub's EPITRACE_HOTSPOT_ALPHA) is red; a cluster
// that is not significant is grey, never drawn as suspected.
import { createMap, metresToPixels } from "./map.js";

const SUSPECTED = "#b2182b";
const NOT_SIGNIFICANT = "#7a828c";
const data = JSON.parse(document.getElementById("hotspot-map-data").textContent);
const container = document.getElementById("hotspot-map");

function points(items, properties) {
  return {
    type: "FeatureCollection",
    features: items.map((item) => ({
      type: "Feature", properties: properties(item), geometry: { type: "Point", coordinates: [item.lon, item.lat] },
    })),
  };
}

// The map opens on the clusters' whole circles and every event.
const METRES_PER_DEGREE = 111320;
function circleCorners(cluster) {
  const dLat = cluster.radius_m / METRES_PER_DEGREE;
  const dLon = dLat / Math.max(Math.cos((cluster.lat * Math.PI) / 180), 0.01);
  return [[cluster.lon - dLon, cluster.lat - dLat], [cluster.lon + dLon, cluster.lat + dLat]];
}
const where = [...data.clusters.flatMap(circleCorners), ...data.events.map((e) => [e.lon, e.lat])];
createMap(container, where, data).then((map) => {
  const latitude = where.length ? where[0][1] : 37.5;
  map.addSource("events", { type: "geojson", data: points(data.events, (e) => ({ case_id: e.case_id })) });
  map.addLayer({ id: "events", type: "circle", source: "events", paint: { "circle-radius": 3, "circle-color": "#4d4d4d", "circle-opacity": 0.7 } });
  map.addSource("clusters", { type: "geojson", data: points(data.clusters, (c) => ({
    number: c.number, radius_m: Math.max(c.radius_m, 50), significant: c.significant,
    label: `#${c.number} ${c.district || ""}`.trim() })) });
  map.addLayer({ id: "clusters", type: "circle", source: "clusters", paint: {
    "circle-radius": metresToPixels("radius_m", latitude),
    "circle-color": ["case", ["get", "significant"], SUSPECTED, NOT_SIGNIFICANT], "circle-opacity": 0.25,
    "circle-stroke-color": ["case", ["get", "significant"], SUSPECTED, NOT_SIGNIFICANT],
    "circle-stroke-width": ["case", ["get", "significant"], 2, 1] } });
  map.addLayer({ id: "cluster-label", type: "symbol", source: "clusters", layout: {
    "text-field": ["get", "label"], "text-size": 12, "text-anchor": "top", "text-offset": [0, 0.6],
    "text-allow-overlap": true }, paint: { "text-color": ["case", ["get", "significant"], SUSPECTED, NOT_SIGNIFICANT], "text-halo-color": "#ffffff", "text-halo-width": 2 } });
  map.once("idle", () => { container.dataset.rendered = "true"; });
});
