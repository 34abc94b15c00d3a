// The case page: the path on the map as report.html draws it (stays as circles of their
// radius and numbered badges coloured by their best evidence, moves in their mode's
// colour), over the district boundaries; a stay's popup; the zoomable timeline. Clicking
// a stay highlights its row in the stays table, and clicking a row highlights and centres
// its stay.
import { colour, colourBy, createMap, maplibregl, metresToPixels } from "./map.js";
import { Timeline } from "./timeline.js";

const data = JSON.parse(document.getElementById("case-map-data").textContent);
const container = document.getElementById("case-map");
const timelineBox = document.getElementById("case-timeline");
const labels = data.labels;
const EVIDENCE = ["precise", "telecom"];
const MODES = ["bus", "subway", "transit", "unknown"];

function stayFeatures(stays) {
  return {
    type: "FeatureCollection",
    features: stays.map((s) => ({
      type: "Feature",
      properties: { seq: s.seq, evidence: s.evidence, radius_m: Math.max(s.radius_m, 1) },
      geometry: { type: "Point", coordinates: [s.lon, s.lat] },
    })),
  };
}

function moveFeatures(moves) {
  return {
    type: "FeatureCollection",
    features: moves.filter((m) => m.coordinates.length > 1).map((m) => ({
      type: "Feature", properties: { mode_class: m.mode_class }, geometry: { type: "LineString", coordinates: m.coordinates },
    })),
  };
}

const clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: data.time_zone || undefined, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
});

// The popup's content, built as text (place names come from agencies' files).
function popupContent(stay) {
  const box = document.createElement("div");
  box.className = "stay-popup";
  const title = document.createElement("strong");
  title.textContent = `#${stay.seq} ${stay.label}`;
  box.append(title);
  const facts = document.createElement("dl");
  const rows = [
    [labels.time, `${clock.format(Date.parse(stay.start))} – ${clock.format(Date.parse(stay.end))}`],
    [labels.district, stay.district],
    [labels.sources, (stay.source_labels || stay.sources).join(" + ")],
    [labels.contacts, String(stay.contacts)],
  ];
  for (const [term, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    facts.append(dt, dd);
  }
  box.append(facts);
  return box;
}

function drawPath(map) {
  const latitude = data.stays.length ? data.stays[0].lat : 37.5;
  const bySeq = new Map(data.stays.map((s) => [s.seq, s]));
  map.addSource("moves", { type: "geojson", data: moveFeatures(data.moves) });
  map.addLayer({ id: "moves", type: "line", source: "moves",
    filter: ["!=", ["get", "mode_class"], "unknown"],
    layout: { "line-join": "round", "line-cap": "round" },
    paint: { "line-color": colourBy("mode_class", MODES), "line-width": 3 } });
  map.addLayer({ id: "moves-unknown", type: "line", source: "moves",
    filter: ["==", ["get", "mode_class"], "unknown"],
    paint: { "line-color": colour("unknown"), "line-width": 2, "line-dasharray": [3, 2.5] } });
  map.addSource("stays", { type: "geojson", data: stayFeatures(data.stays), promoteId: "seq" });
  const byEvidence = colourBy("evidence", EVIDENCE);
  map.addLayer({ id: "stay-area", type: "circle", source: "stays", paint: {
    "circle-radius": metresToPixels("radius_m", latitude),
    "circle-color": byEvidence, "circle-opacity": 0.15,
    "circle-stroke-color": byEvidence, "circle-stroke-width": 1.2 } });
  map.addLayer({ id: "stay-centre", type: "circle", source: "stays", paint: {
    "circle-radius": 9, "circle-color": byEvidence,
    "circle-stroke-color": ["case", ["boolean", ["feature-state", "selected"], false], "#1b1f24", "#ffffff"],
    "circle-stroke-width": ["case", ["boolean", ["feature-state", "selected"], false], 3, 1.6] } });
  map.addLayer({ id: "stay-seq", type: "symbol", source: "stays", layout: {
    "text-field": ["to-string", ["get", "seq"]], "text-size": 10,
    "text-allow-overlap": true, "text-ignore-placement": true },
    paint: { "text-color": "#ffffff" } });

  const popup = new maplibregl.Popup({ closeButton: true, maxWidth: "320px", offset: 12 });
  let selected = null;
  function select(seq, { centre = false } = {}) {
    const stay = bySeq.get(seq);
    if (!stay) return;
    if (selected !== null) map.setFeatureState({ source: "stays", id: selected }, { selected: false });
    map.setFeatureState({ source: "stays", id: seq }, { selected: true });
    selected = seq;
    for (const row of document.querySelectorAll("#stays tr.selected")) row.classList.remove("selected");
    const row = document.getElementById(`stay-${seq}`);
    row?.classList.add("selected");
    container.dataset.selectedStay = String(seq);
    popup.setLngLat([stay.lon, stay.lat]).setDOMContent(popupContent(stay)).addTo(map);
    if (centre) map.easeTo({ center: [stay.lon, stay.lat], duration: 400 });
    else row?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
  map.on("click", "stay-centre", (event) => select(event.features[0].properties.seq));
  map.on("mouseenter", "stay-centre", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "stay-centre", () => { map.getCanvas().style.cursor = ""; });
  for (const row of document.querySelectorAll("#stays tbody tr[data-seq]")) {
    const pick = () => select(Number(row.dataset.seq), { centre: true });
    row.addEventListener("click", (event) => { if (!event.target.closest("a")) pick(); });
    row.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(); } });
  }
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
