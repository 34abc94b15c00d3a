// Linked selection, tooltips and zoom/pan for report.html. Data values are read
// back from data-* attributes and written only as text (never as HTML).
(() => {
  "use strict";
  const svg = document.getElementById("map-svg");
  const tip = document.getElementById("tip");

  // ---- linked selection: map badge <-> timeline bar <-> table row <-> interview item
  let selected = null;
  function select(seq, origin) {
    document.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
    selected = seq === selected ? null : seq;
    if (selected === null) return;
    const same = document.querySelectorAll(`[data-seq="${CSS.escape(selected)}"]`);
    same.forEach((el) => el.classList.add("selected"));
    const badge = svg && svg.querySelector(`.badge[data-seq="${CSS.escape(selected)}"]`);
    if (badge) {
      badge.parentNode.appendChild(badge); // draw the chosen badge on top
      if (origin !== "map") panTo(+badge.dataset.x, +badge.dataset.y);
    }
    const row = document.querySelector(`#stays-table tr[data-seq="${CSS.escape(selected)}"]`);
    if (row && origin !== "table") reveal(row, row.closest(".table-box"));
    const item = document.querySelector(`.status-list li[data-seq="${CSS.escape(selected)}"]`);
    if (item && origin !== "other") reveal(item, item.closest("ul"));
  }
  // Scroll an item's own list or table box to it, never the page: the map stays in view.
  function reveal(item, box) {
    if (!item || !box) return;
    const head = box.querySelector("thead");
    const itemTop = item.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    const top = itemTop - (head ? head.offsetHeight : 0), bottom = itemTop + item.offsetHeight;
    if (top < box.scrollTop) box.scrollTop = top;
    else if (bottom > box.scrollTop + box.clientHeight) box.scrollTop = bottom - box.clientHeight;
  }
  document.addEventListener("click", (ev) => {
    if (dragged) return;
    const el = ev.target.closest("[data-seq]");
    if (!el) return;
    select(el.dataset.seq, el.closest("#map-svg") ? "map" : el.closest("#stays-table") ? "table" : "other");
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && selected !== null) select(selected, "other");
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.dataset && ev.target.dataset.seq) {
      ev.preventDefault();
      select(ev.target.dataset.seq, "other");
    }
  });

  // ---- tooltips from data-tip: first line bold, the rest as plain lines
  function showTip(el, x, y) {
    const lines = el.dataset.tip.split("\n");
    tip.replaceChildren();
    const head = document.createElement("strong");
    head.textContent = lines[0];
    tip.append(head, lines.slice(1).join("\n"));
    tip.hidden = false;
    placeTip(x, y);
  }
  function placeTip(x, y) {
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(x + 14, window.innerWidth - w - 8) + "px";
    tip.style.top = (y + 16 + h > window.innerHeight ? y - h - 10 : y + 16) + "px";
  }
  document.addEventListener("pointerover", (ev) => {
    const el = ev.target.closest("[data-tip]");
    if (el && !dragging) showTip(el, ev.clientX, ev.clientY);
  });
  document.addEventListener("pointermove", (ev) => { if (!tip.hidden) placeTip(ev.clientX, ev.clientY); });
  document.addEventListener("pointerout", (ev) => {
    const el = ev.target.closest("[data-tip]");
    if (el && !el.contains(ev.relatedTarget)) tip.hidden = true;
  });

  // ---- zoom and pan on the SVG viewBox (metres); pixel-sized marks follow the zoom
  let dragging = null, dragged = false;
  // data-ready lets a headless browser check that the script ran to the end.
  if (!svg) return void (document.documentElement.dataset.ready = "1");
  const home = svg.viewBox.baseVal;
  const fit = { x: home.x, y: home.y, w: home.width, h: home.height };
  let view = { ...fit };

  function nice(target) {
    const p = Math.pow(10, Math.floor(Math.log10(target)));
    return [5, 2, 1].map((f) => f * p).find((v) => v <= target);
  }
  function label(m) { return m >= 1000 ? `${m / 1000} km` : `${m} m`; }

  function redraw() {
    svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    const k = view.w / (svg.clientWidth || 800); // metres per pixel
    svg.querySelectorAll(".px").forEach((g) => {
      const rot = +g.dataset.rot ? ` rotate(${g.dataset.rot})` : "";
      g.setAttribute("transform", `translate(${g.dataset.x} ${g.dataset.y})${rot} scale(${k})`);
    });
    spread(k);
    svg.querySelectorAll(".area").forEach((c) => c.setAttribute("r", Math.max(+c.dataset.r, 5 * k)));
    const length = nice(view.w / 5), barPx = length / k;
    const bar = document.getElementById("scale-bar");
    bar.setAttribute("transform", `translate(${view.x} ${view.y}) scale(${k})`);
    bar.firstElementChild.setAttribute("transform", `translate(16 ${view.h / k - 18})`);
    bar.querySelector(".bar-bg").setAttribute("width", barPx + 12);
    bar.querySelector(".bar").setAttribute("d", `M0 -6V2H${barPx}V-6`);
    const text = bar.querySelector("text");
    text.setAttribute("x", barPx / 2);
    text.textContent = label(length);
  }
  // Badges never cover one another (the server's pathmap.badge_offsets, the hub's
  // badges.js: the same rule): piles, anchored at their first stay, whose reaches overlap
  // are merged; a pile's badges sit in a sunflower, in seq order from the centre out.
  const R = 9, GAP = 2, SPACING = 13, GOLDEN = Math.PI * (3 - Math.sqrt(5));
  const badges = [...svg.querySelectorAll(".badge")].sort((a, b) => a.dataset.seq - b.dataset.seq);
  const reach = (n) => (n > 1 ? SPACING * Math.sqrt(n - 0.5) : 0) + R;
  function spread(k) {
    const piles = badges.map((b) => [{ b, x: b.dataset.x / k, y: b.dataset.y / k }]);
    for (let i = 0; i < piles.length; ) {
      let grown = false;
      for (let j = i + 1; j < piles.length; ) {
        const a = piles[i][0], c = piles[j][0];
        if (Math.hypot(a.x - c.x, a.y - c.y) < reach(piles[i].length) + reach(piles[j].length) + GAP) {
          piles[i] = piles[i].concat(piles.splice(j, 1)[0]).sort((p, q) => p.b.dataset.seq - q.b.dataset.seq);
          grown = true;
        } else j += 1;
      }
      i = grown ? 0 : i + 1; // a grown pile reaches further: check the ones before it again
    }
    for (const pile of piles) {
      pile.forEach(({ b, x, y }, i) => {
        const r = pile.length > 1 ? SPACING * Math.sqrt(i + 0.5) : 0, a = i * GOLDEN;
        const dx = pile[0].x - x + r * Math.cos(a), dy = pile[0].y - y + r * Math.sin(a);
        b.querySelector("line").setAttribute("x2", dx);
        b.querySelector("line").setAttribute("y2", dy);
        b.querySelector("g").setAttribute("transform", `translate(${dx} ${dy})`);
      });
    }
  }
  function zoom(factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) {
    const w = Math.min(Math.max(view.w * factor, 20), fit.w * 50);
    const f = w / view.w;
    view = { x: cx - (cx - view.x) * f, y: cy - (cy - view.y) * f, w, h: view.h * f };
    redraw();
  }
  function toMetres(ev) {
    const r = svg.getBoundingClientRect();
    return { x: view.x + ((ev.clientX - r.left) / r.width) * view.w, y: view.y + ((ev.clientY - r.top) / r.height) * view.h };
  }
  function panTo(x, y) {
    const m = 0.1; // keep the point away from the very edge
    const inside = x > view.x + view.w * m && x < view.x + view.w * (1 - m) && y > view.y + view.h * m && y < view.y + view.h * (1 - m);
    if (!inside) { view.x = x - view.w / 2; view.y = y - view.h / 2; redraw(); }
  }
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const p = toMetres(ev);
    zoom(Math.exp(Math.max(-1, Math.min(1, ev.deltaY * (ev.deltaMode ? 0.05 : 0.002)))), p.x, p.y);
  }, { passive: false });
  svg.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    dragging = { x: ev.clientX, y: ev.clientY, view: { ...view } };
    dragged = false;
  });
  window.addEventListener("pointermove", (ev) => {
    if (!dragging) return;
    const dx = ev.clientX - dragging.x, dy = ev.clientY - dragging.y;
    if (!dragged && Math.hypot(dx, dy) < 4) return; // a click, not a drag
    if (!dragged) { dragged = true; svg.classList.add("dragging"); tip.hidden = true; }
    const r = svg.getBoundingClientRect();
    view.x = dragging.view.x - (dx / r.width) * view.w;
    view.y = dragging.view.y - (dy / r.height) * view.h;
    redraw();
  });
  window.addEventListener("pointerup", () => {
    if (!dragging) return;
    dragging = null;
    svg.classList.remove("dragging");
    setTimeout(() => { dragged = false; }, 0); // let this drag's click event pass first
  });
  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.zoom === "reset") { view = { ...fit }; redraw(); } else zoom(b.dataset.zoom === "in" ? 0.6 : 1 / 0.6);
  }));
  svg.addEventListener("dblclick", (ev) => { const p = toMetres(ev); zoom(0.5, p.x, p.y); });
  window.addEventListener("resize", redraw);
  window.addEventListener("beforeprint", redraw);
  redraw();
  document.documentElement.dataset.ready = "1";
})();
