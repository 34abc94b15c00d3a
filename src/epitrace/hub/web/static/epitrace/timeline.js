// A zoomable timeline of stays and moves drawn as SVG: wheel, buttons or +/- keys zoom,
// drag or the arrow keys move in time. Times are shown in the user's time zone.
import { colour } from "./map.js";
import { STEPS, localTicks } from "./ticks.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 96;
const MARGIN = { left: 8, right: 8, top: 18, bottom: 22 };
const MIN_SPAN_MS = 15 * 60 * 1000;

function element(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

export class Timeline {
  constructor(container, data, labels) {
    this.container = container;
    this.stays = data.stays.map((s) => ({ ...s, t0: Date.parse(s.start), t1: Date.parse(s.end) }));
    this.moves = data.moves
      .filter((m) => m.start && m.end)
      .map((m) => ({ ...m, t0: Date.parse(m.start), t1: Date.parse(m.end) }));
    const times = [...this.stays, ...this.moves].flatMap((item) => [item.t0, item.t1]);
    const window = (data.window || []).map((t) => (t ? Date.parse(t) : NaN));
    this.full = [
      Math.min(...times, Number.isFinite(window[0]) ? window[0] : Infinity),
      Math.max(...times, Number.isFinite(window[1]) ? window[1] : -Infinity),
    ];
    this.view = [...this.full];
    this.labels = labels;
    this.lang = document.documentElement.lang || "en";
    this.timeZone = data.time_zone;
    this.tickFormat = new Intl.DateTimeFormat(this.lang, { timeZone: data.time_zone, hour: "2-digit", minute: "2-digit", hour12: false });
    this.dateFormat = new Intl.DateTimeFormat(this.lang, { timeZone: data.time_zone, month: "short", day: "numeric", weekday: "short" });
    this.fullFormat = new Intl.DateTimeFormat(this.lang, { timeZone: data.time_zone, dateStyle: "short", timeStyle: "short" });
    this.svg = element("svg", { role: "img", "aria-label": labels.title, class: "timeline-svg" }, container);
    element("title", {}, this.svg).textContent = labels.title;
    this.listen();
    this.draw();
  }

  width() {
    return Math.max(this.container.clientWidth, 320);
  }

  x(t) {
    const [a, b] = this.view;
    return MARGIN.left + ((t - a) / (b - a)) * (this.width() - MARGIN.left - MARGIN.right);
  }

  time(x) {
    const [a, b] = this.view;
    return a + ((x - MARGIN.left) / (this.width() - MARGIN.left - MARGIN.right)) * (b - a);
  }

  zoom(factor, centre = (this.view[0] + this.view[1]) / 2) {
    const span = Math.max((this.view[1] - this.view[0]) * factor, MIN_SPAN_MS);
    const full = this.full[1] - this.full[0];
    if (span >= full) {
      this.view = [...this.full];
    } else {
      const ratio = (centre - this.view[0]) / (this.view[1] - this.view[0]);
      this.view = [centre - ratio * span, centre + (1 - ratio) * span];
      this.clamp();
    }
    this.draw();
  }

  reset() {
    this.view = [...this.full];
    this.draw();
  }

  // The zoom buttons beside the timeline: data-zoom="in", "out" or "reset".
  bindButtons(buttons) {
    const actions = { in: () => this.zoom(0.5), out: () => this.zoom(2), reset: () => this.reset() };
    for (const button of buttons) {
      button.addEventListener("click", () => actions[button.dataset.zoom]?.());
    }
  }

  pan(milliseconds) {
    this.view = [this.view[0] + milliseconds, this.view[1] + milliseconds];
    this.clamp();
    this.draw();
  }

  clamp() {
    const span = this.view[1] - this.view[0];
    if (this.view[0] < this.full[0]) this.view = [this.full[0], this.full[0] + span];
    if (this.view[1] > this.full[1]) this.view = [this.full[1] - span, this.full[1]];
  }

  listen() {
    this.container.addEventListener("wheel", (event) => {
      event.preventDefault();
      const bounds = this.svg.getBoundingClientRect();
      this.zoom(event.deltaY < 0 ? 0.7 : 1 / 0.7, this.time(event.clientX - bounds.left));
    }, { passive: false });
    this.container.addEventListener("keydown", (event) => {
      const step = (this.view[1] - this.view[0]) / 5;
      const actions = { "+": () => this.zoom(0.7), "=": () => this.zoom(0.7), "-": () => this.zoom(1 / 0.7),
        ArrowLeft: () => this.pan(-step), ArrowRight: () => this.pan(step), Home: () => this.reset() };
      if (actions[event.key]) {
        event.preventDefault();
        actions[event.key]();
      }
    });
    let dragging = null;
    this.svg.addEventListener("pointerdown", (event) => {
      dragging = { x: event.clientX, view: [...this.view] };
      this.svg.setPointerCapture(event.pointerId);
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!dragging) return;
      const perPixel = (dragging.view[1] - dragging.view[0]) / (this.width() - MARGIN.left - MARGIN.right);
      this.view = dragging.view.map((t) => t - (event.clientX - dragging.x) * perPixel);
      this.clamp();
      this.draw();
    });
    this.svg.addEventListener("pointerup", () => { dragging = null; });
    window.addEventListener("resize", () => this.draw());
  }

  // Ticks on round local times; a local midnight is a stronger line labelled with its date.
  drawAxis() {
    const span = this.view[1] - this.view[0];
    const step = STEPS.find((s) => (s / span) * this.width() >= 90) || STEPS[STEPS.length - 1];
    const axis = element("g", { class: "axis" }, this.svg);
    for (const { t, midnight } of localTicks(this.view[0], this.view[1], step, this.timeZone)) {
      const x = this.x(t);
      const line = element("line", { x1: x, x2: x, y1: MARGIN.top - 4, y2: HEIGHT - MARGIN.bottom, class: midnight ? "tick midnight" : "tick" }, axis);
      line.dataset.time = new Date(t).toISOString();
      const label = element("text", { x: x + 2, y: HEIGHT - 6, class: midnight ? "tick-label date" : "tick-label" }, axis);
      label.textContent = midnight ? this.dateFormat.format(t) : this.tickFormat.format(t);
    }
  }

  bar(parent, item, y, height, className, colour, title) {
    const x0 = Math.max(this.x(item.t0), MARGIN.left);
    const x1 = Math.min(this.x(item.t1), this.width() - MARGIN.right);
    const rect = element("rect", { x: x0, y, width: Math.max(x1 - x0, 2), height, class: className, fill: colour }, parent);
    element("title", {}, rect).textContent = title;
    return rect;
  }

  draw() {
    // The shown span in milliseconds, for anyone checking (the browser tests do).
    this.svg.dataset.span = String(Math.round(this.view[1] - this.view[0]));
    this.svg.setAttribute("viewBox", `0 0 ${this.width()} ${HEIGHT}`);
    this.svg.setAttribute("width", this.width());
    this.svg.setAttribute("height", HEIGHT);
    for (const node of [...this.svg.querySelectorAll("g")]) node.remove();
    this.drawAxis();
    const rows = element("g", { class: "rows" }, this.svg);
    const label = (text, y) => { element("text", { x: MARGIN.left, y, class: "row-label" }, rows).textContent = text; };
    label(this.labels.stays, MARGIN.top - 6);
    for (const stay of this.stays) {
      const title = `#${stay.seq} ${stay.label} · ${this.fullFormat.format(stay.t0)} – ${this.fullFormat.format(stay.t1)} · ${(stay.source_labels || stay.sources).join("+")}`;
      const rect = this.bar(rows, stay, MARGIN.top, 22, "stay", colour(stay.evidence), title);
      rect.dataset.seq = stay.seq;
    }
    label(this.labels.moves, MARGIN.top + 36);
    for (const move of this.moves) {
      const title = `${move.mode || this.labels.move} · ${this.fullFormat.format(move.t0)} – ${this.fullFormat.format(move.t1)}`;
      this.bar(rows, move, MARGIN.top + 40, 10, "move", colour(move.mode_class), title);
    }
  }
}
