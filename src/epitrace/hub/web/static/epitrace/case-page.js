// The case page: the path on the map as report.html draws it (stays as circles of their
// radius and numbered badges coloured by their best evidence, piled apart where they
// would cover one another; moves in their mode's colour with a chevron showing the way),
// over the district boundaries; a stay's popup; the zoomable timeline. Clicking a stay
// highlights its row in the stays table, and clicking a row highlights and centres its
// stay.
import { BADGE_RADIUS_PX, badgeOffsets } from "./badges.js";
import { colour, colourBy, createMap, maplibregl, metresToPixels } from "./map.js";
import { Timeline } from "./timeline.js";

const data = JSON.parse(document.getElementById("case-map-data").textContent);
const container = document.getElementById("case-map");
const timelineBox = document.getElementById("case-timeline");
const labels = data.labels;
const EVIDENCE = ["precise", "telecom"];
const MODES = ["bus", "subway", "transit", "unknown"];
const METRES_PER_DEGREE = 111320;
const SVG = "http://www.w3.org/2000/svg";

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

// A move's direction as report.html shows it (report.pathmap._arrow): one chevron 2/5 of
// the way along its longest leg (not halfway: out and back along one street would make a
// cross), turned the way the subject went; none on a leg under a metre.
const ARROW_AT = 0.4;
function legMetres([lon1, lat1], [lon2, lat2]) {
  const east = (lon2 - lon1) * Math.cos((((lat1 + lat2) / 2) * Math.PI) / 180);
  return Math.hypot(east, lat2 - lat1) * METRES_PER_DEGREE;
}

function arrowFeatures(moves) {
  const features = [];
  moves.forEach((move, index) => {
    const legs = move.coordinates.slice(1).map((to, i) => [move.coordinates[i], to]);
    if (legs.length === 0) return;
    const [a, b] = legs.reduce((best, leg) => (legMetres(...leg) > legMetres(...best) ? leg : best));
    if (legMetres(a, b) < 1) return;
    // Web Mercator keeps angles: the leg's angle on screen, clockwise from east (y down).
    const from = maplibregl.MercatorCoordinate.fromLngLat(a);
    const to = maplibregl.MercatorCoordinate.fromLngLat(b);
    const bearing = (Math.atan2(to.y - from.y, to.x - from.x) * 180) / Math.PI;
    features.push({
      type: "Feature",
      properties: { move: index, mode_class: move.mode_class, bearing },
      geometry: { type: "Point", coordinates: [0, 1].map((i) => a[i] + ARROW_AT * (b[i] - a[i])) },
    });
  });
  return { type: "FeatureCollection", features };
}

// The report's chevron (path "M-4 -5L3 0L-4 5", 2.2 px, round), pointing east, drawn on
// a canvas at twice the pixel density: one image per mode's colour, nothing fetched.
function addArrowImages(map) {
  const size = 16, ratio = 2;
  for (const mode of MODES) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size * ratio;
    const pen = canvas.getContext("2d");
    pen.scale(ratio, ratio);
    pen.translate(size / 2, size / 2);
    Object.assign(pen, { strokeStyle: colour(mode), lineWidth: 2.2, lineCap: "round", lineJoin: "round" });
    pen.beginPath();
    pen.moveTo(-4, -5);
    pen.lineTo(3, 0);
    pen.lineTo(-4, 5);
    pen.stroke();
    map.addImage(`arrow-${mode}`, pen.getImageData(0, 0, canvas.width, canvas.height), { pixelRatio: ratio });
  }
}

// A stay's numbered badge: a button over the map (focusable, read out with its place),
// with a leader line back to the stay's own point when its pile moves it away.
function badgeElement(stay) {
  const badge = document.createElement("button");
  badge.type = "button";
  badge.className = `stay-badge ${stay.evidence}`;
  badge.dataset.seq = String(stay.seq);
  badge.setAttribute("aria-label", `#${stay.seq} ${stay.label}`);
  const leader = document.createElementNS(SVG, "svg");
  leader.setAttribute("class", "leader");
  leader.setAttribute("aria-hidden", "true");
  leader.append(document.createElementNS(SVG, "line"));
  const number = document.createElement("span");
  number.textContent = String(stay.seq);
  badge.append(leader, number);
  return badge;
}

// Badges apart at the map's zoom (badges.js), each marker moved by its offset in pixels.
function placeBadges(map, badges) {
  const offsets = badgeOffsets(data.stays.map((s) => {
    const at = map.project([s.lon, s.lat]);
    return { seq: s.seq, x: at.x, y: at.y };
  }));
  for (const [seq, { marker, element }] of badges) {
    const [dx, dy] = offsets.get(seq);
    marker.setOffset([dx, dy]);
    // From the badge's rim (not over its number) to the stay's point.
    const length = Math.hypot(dx, dy);
    const rim = length > BADGE_RADIUS_PX ? BADGE_RADIUS_PX / length : 1;
    const line = element.querySelector("line");
    line.setAttribute("x1", String(-dx * rim));
    line.setAttribute("y1", String(-dy * rim));
    line.setAttribute("x2", String(-dx));
    line.setAttribute("y2", String(-dy));
  }
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
  addArrowImages(map);
  const arrows = arrowFeatures(data.moves);
  map.addSource("move-arrows", { type: "geojson", data: arrows });
  map.addLayer({ id: "move-arrows", type: "symbol", source: "move-arrows", layout: {
    "icon-image": ["concat", "arrow-", ["get", "mode_class"]],
    "icon-rotate": ["get", "bearing"], "icon-rotation-alignment": "map",
    "icon-allow-overlap": true, "icon-ignore-placement": true } });
  container.dataset.arrows = String(arrows.features.length);
  map.addSource("stays", { type: "geojson", data: stayFeatures(data.stays), promoteId: "seq" });
  const byEvidence = colourBy("evidence", EVIDENCE);
  map.addLayer({ id: "stay-area", type: "circle", source: "stays", paint: {
    "circle-radius": metresToPixels("radius_m", latitude),
    "circle-color": byEvidence, "circle-opacity": 0.15,
    "circle-stroke-color": byEvidence, "circle-stroke-width": 1.2 } });
  // The stay's own point, where its badge's leader line ends (under the badge when the
  // badge sits on it).
  map.addLayer({ id: "stay-centre", type: "circle", source: "stays", paint: {
    "circle-radius": 3.5, "circle-color": byEvidence,
    "circle-stroke-color": ["case", ["boolean", ["feature-state", "selected"], false], "#1b1f24", "#ffffff"],
    "circle-stroke-width": ["case", ["boolean", ["feature-state", "selected"], false], 2, 1] } });

  const popup = new maplibregl.Popup({ closeButton: true, maxWidth: "320px", offset: 12 });
  let selected = null;
  function select(seq, { centre = false } = {}) {
    const stay = bySeq.get(seq);
    if (!stay) return;
    if (selected !== null) map.setFeatureState({ source: "stays", id: selected }, { selected: false });
    map.setFeatureState({ source: "stays", id: seq }, { selected: true });
    selected = seq;
    for (const row of document.querySelectorAll("#stays tr.selected")) row.classList.remove("selected");
    for (const [each, { element }] of badges) element.classList.toggle("selected", each === seq);
    const badge = badges.get(seq).element;
    badge.parentNode.appendChild(badge); // over the other badges (the popup stays above)
    const row = document.getElementById(`stay-${seq}`);
    row?.classList.add("selected");
    container.dataset.selectedStay = String(seq);
    popup.setLngLat([stay.lon, stay.lat]).setDOMContent(popupContent(stay)).addTo(map);
    if (centre) map.easeTo({ center: [stay.lon, stay.lat], duration: 400 });
    else row?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
  const badges = new Map(data.stays.map((stay) => {
    const element = badgeElement(stay);
    // Not on to the map: its click would close the popup this one opens.
    element.addEventListener("click", (event) => { event.stopPropagation(); select(stay.seq); });
    const marker = new maplibregl.Marker({ element, anchor: "center" }).setLngLat([stay.lon, stay.lat]).addTo(map);
    return [stay.seq, { marker, element }];
  }));
  placeBadges(map, badges);
  map.on("zoom", () => placeBadges(map, badges));
  map.on("click", "stay-centre", (event) => select(event.features[0].properties.seq));
  map.on("mouseenter", "stay-centre", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "stay-centre", () => { map.getCanvas().style.cursor = ""; });
  for (const row of document.querySelectorAll("#stays tbody tr[data-seq]")) {
    const pick = () => select(Number(row.dataset.seq), { centre: true });
    row.addEventListener("click", (event) => { if (!event.target.closest("a")) pick(); });
    row.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(); } });
  }
  // For the browser tests and for anyone checking: how many stays and arrows the map
  // really drew.
  map.once("idle", () => {
    const drawn = new Set(map.queryRenderedFeatures({ layers: ["stay-centre"] }).map((f) => f.properties.seq));
    const pointed = new Set(map.queryRenderedFeatures({ layers: ["move-arrows"] }).map((f) => f.properties.move));
    container.dataset.renderedArrows = String(pointed.size);
    container.dataset.renderedStays = String(drawn.size);
  });
}

// The map opens on every stay's whole circle (its radius), not only on the centres.
function circleCorners(stay) {
  const dLat = stay.radius_m / METRES_PER_DEGREE;
  const dLon = dLat / Math.max(Math.cos((stay.lat * Math.PI) / 180), 0.01);
  return [[stay.lon - dLon, stay.lat - dLat], [stay.lon + dLon, stay.lat + dLat]];
}
const points = [...data.stays.flatMap(circleCorners), ...data.moves.flatMap((m) => m.coordinates)];
createMap(container, points, data).then(drawPath);
const timeline = new Timeline(timelineBox, data, data.labels);
timeline.bindButtons(document.querySelectorAll("button[data-zoom]"));
