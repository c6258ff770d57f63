// The live dashboard: values under a crosshair, drag to zoom, data refreshed in place.
// Everything it shows comes from the page's own escaped markup and is set as text.
(() => {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const pad = (n) => String(n).padStart(2, "0");
  const when = (t) => {
    const d = new Date(t * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  };
  const iso = (t) => new Date(Math.round(t / 60) * 60000).toISOString().slice(0, 16) + "Z";
  const num = (v) => String(Number(v.toPrecision(4)));

  const tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  document.body.appendChild(tip);

  function geometry(svg) {
    const d = svg.dataset;
    const box = svg.getBoundingClientRect();
    return {
      svg, box, scale: svg.viewBox.baseVal.width / box.width,
      x0: +d.x0, x1: +d.x1, t0: +d.t0, t1: +d.t1, ts: d.ts.split(",").map(Number),
    };
  }
  const toX = (g, t) => g.x0 + (t - g.t0) / (g.t1 - g.t0) * (g.x1 - g.x0);
  function timeAt(g, clientX) {
    const f = ((clientX - g.box.left) * g.scale - g.x0) / (g.x1 - g.x0);
    return g.t0 + Math.min(Math.max(f, 0), 1) * (g.t1 - g.t0);
  }
  function nearest(ts, t) {
    let lo = 0, hi = ts.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ts[mid] <= t) lo = mid; else hi = mid;
    }
    return Math.abs(ts[hi] - t) < Math.abs(ts[lo] - t) ? hi : lo;
  }
  function overlay(svg, cls) {
    let el = svg.querySelector(`.${cls}`);
    if (!el) {
      el = document.createElementNS(NS, cls === "crosshair" ? "line" : "rect");
      el.setAttribute("class", cls);
      svg.appendChild(el);
    }
    return el;
  }

  function hide() {
    tip.hidden = true;
    document.querySelectorAll("svg.chart .crosshair").forEach((el) => el.remove());
  }

  function show(svg, ev) {
    if (!svg.dataset.ts) return;
    const g = geometry(svg);
    const i = nearest(g.ts, timeAt(g, ev.clientX));
    const x = toX(g, g.ts[i]);
    const line = overlay(svg, "crosshair");
    line.setAttribute("x1", x);
    line.setAttribute("x2", x);
    line.setAttribute("y1", svg.dataset.top);
    line.setAttribute("y2", svg.dataset.bottom);
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-time";
    // A downsampled point stands for its bucket: the worst value in it for a metric
    // with a good direction.
    head.textContent = when(g.ts[i]) + (svg.dataset.bucket ? ` · ${svg.dataset.bucket} point` : "");
    tip.appendChild(head);
    svg.querySelectorAll("path.series[data-v]").forEach((p) => {
      const raw = p.dataset.v.split(",")[i];
      const row = document.createElement("div");
      const sw = document.createElement("span");
      sw.className = `swatch ${p.classList[1] || ""}`;
      const name = document.createElement("span");
      name.textContent = p.querySelector("title").textContent + " ";
      const value = document.createElement("strong");
      value.className = "tip-value";
      value.dataset.metric = p.dataset.metric;
      value.dataset.raw = raw === undefined ? "" : raw;
      value.textContent = raw ? `${num(Number(raw))}${p.dataset.unit ? " " + p.dataset.unit : ""}`
        : "no data";
      row.append(sw, name, value);
      tip.appendChild(row);
    });
    svg.querySelectorAll("rect.band").forEach((b) => {
      const bx = +b.getAttribute("x");
      if (x >= bx && x <= bx + +b.getAttribute("width")) {
        const row = document.createElement("div");
        row.className = `tip-marker ${b.dataset.marker}`;
        row.textContent = b.querySelector("title").textContent;
        tip.appendChild(row);
      }
    });
    tip.hidden = false;
    const w = tip.offsetWidth;
    tip.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - w - 8)}px`;
    tip.style.top = `${ev.clientY + 14}px`;
  }

  let drag = null;
  document.addEventListener("mousemove", (ev) => {
    const svg = ev.target.closest ? ev.target.closest("svg.chart[data-ts]") : null;
    if (drag) {
      const g = drag.g;
      const a = toX(g, drag.t), b = toX(g, timeAt(g, ev.clientX));
      const sel = overlay(g.svg, "selection");
      sel.setAttribute("x", Math.min(a, b));
      sel.setAttribute("width", Math.abs(b - a));
      sel.setAttribute("y", 0);
      sel.setAttribute("height", g.svg.viewBox.baseVal.height);
    }
    if (svg) show(svg, ev); else hide();
  });
  document.addEventListener("mousedown", (ev) => {
    const svg = ev.target.closest ? ev.target.closest("svg.chart[data-ts]") : null;
    if (!svg || ev.button !== 0) return;
    ev.preventDefault();
    const g = geometry(svg);
    drag = { g, t: timeAt(g, ev.clientX), x: ev.clientX };
  });
  document.addEventListener("mouseup", (ev) => {
    if (!drag) return;
    const { g, t, x } = drag;
    drag = null;
    g.svg.querySelectorAll(".selection").forEach((el) => el.remove());
    if (Math.abs(ev.clientX - x) < 5) return;
    const u = new URL(window.location.href);
    const end = timeAt(g, ev.clientX);
    u.searchParams.delete("range");
    u.searchParams.set("from", iso(Math.min(t, end)));
    u.searchParams.set("to", iso(Math.max(t, end)));
    u.hash = "";
    window.location.assign(u.toString());
  });

  async function refresh() {
    const page = document.querySelector(".page");
    try {
      const resp = await fetch(window.location.href, { credentials: "same-origin",
                                                        cache: "no-store" });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const fresh = doc.querySelector(".page");
      if (!fresh) throw new Error("no dashboard in the answer");
      page.replaceWith(document.adoptNode(fresh));
      document.title = doc.title;
      document.body.dataset.refreshed = String(Date.now());
      document.body.classList.remove("stale");
    } catch (err) {
      document.body.classList.add("stale");
      document.body.dataset.staleReason = String(err);
    }
  }
  const every = Number(document.body.dataset.refresh);
  if (every > 0) window.setInterval(refresh, every * 1000);
  document.addEventListener("ionmon:refresh", refresh);  // a refresh now, on request
})();
