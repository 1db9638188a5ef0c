// patchbay monitor page: the instance list, counters and warnings come from the event stream
// (/api/events); the universe grid and channel values too, for what the page subscribes to.
// Picking a universe or a graph page reopens the stream with other parameters. No framework,
// no build step: this file is served as written.
"use strict";

const $ = (id) => document.getElementById(id);
const GRAPH_PAGE = 100;
const state = { universe: "", graphOffset: 0, graphTotal: 0, graphChannels: [], source: null, changes: [] };

// Carries a ?token=... through (the monitor also sets a cookie from it).
const token = new URLSearchParams(location.search).get("token");
function url(path, params) {
  const q = new URLSearchParams(params || {});
  if (token) q.set("token", token);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function stateClass(s) { return "state-" + String(s).replace(/\s+/g, "-"); }

// ---- grids -----------------------------------------------------------------------------
function makeGrid(id) {
  const g = $(id);
  g.textContent = "";
  for (let i = 0; i < 512; i++) {
    g.append(el("div", { class: "cell empty", "data-slot": String(i + 1), title: `slot ${i + 1}` }, ""));
  }
}
function paintGrid(id, levels) {
  const cells = $(id).children;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (!levels) { c.className = "cell empty"; c.textContent = ""; c.dataset.value = ""; continue; }
    const v = levels[i] ?? 0;
    if (c.dataset.value === String(v)) continue;
    c.dataset.value = String(v);
    c.textContent = String(v);
    c.className = "cell";
    const l = 20 + Math.round(v / 255 * 60);
    c.style.background = v === 0 ? "#222" : `hsl(45 90% ${l}%)`;
  }
  // For tests and curious users: when each slot last changed, page time.
  if (levels) state.changes.push([id, Date.now()]);
  if (state.changes.length > 100) state.changes.shift();
}

// ---- instances -------------------------------------------------------------------------
function renderInstances(doc) {
  const body = $("instances").tBodies[0];
  body.textContent = "";
  const pick = $("universe-pick");
  const known = new Set([...pick.options].map((o) => o.value));
  for (const inst of doc.instances) {
    const props = Object.entries(inst.properties).filter(([k]) => k !== "state")
      .map(([k, v]) => `${k} ${v}`).join(", ");
    const st = inst.running ? (inst.properties.state || "running") : "not running";
    const srcs = inst.sources.map((s) => `${s.name || s.cid} (${s.state}${s.priority != null ? ", " + s.priority : ""})`).join("; ");
    body.append(el("tr", { "data-instance": inst.name },
      el("td", {}, inst.name), el("td", {}, inst.backend),
      el("td", { class: stateClass(st) }, st), el("td", {}, props), el("td", {}, srcs)));
    if (!known.has(inst.name) && inst.properties.universe !== undefined) {
      pick.append(el("option", { value: inst.name }, `${inst.name} (universe ${inst.properties.universe})`));
    }
  }
  $("instances-note").textContent = doc.total > doc.instances.length
    ? `${doc.instances.length} of ${doc.total} instances shown (all: /api/instances?offset=...)` : "";
}

// ---- universe ----------------------------------------------------------------------------
function renderUniverse(doc) {
  const parts = [`universe ${doc.universe ?? "-"}`, `${doc.sources} source(s)`];
  if (doc.top_priority != null) parts.push(`top priority ${doc.top_priority} (${doc.sources_at_top_priority} at it)`);
  if (doc.sampling) parts.push("sampling");
  $("universe-summary").textContent = parts.join(" · ");
  const w = $("universe-warnings");
  w.textContent = "";
  for (const line of doc.warnings) w.append(el("li", {}, line));
  paintGrid("grid-in", doc.levels);
  paintGrid("grid-out", doc.output);
  const body = $("sources").tBodies[0];
  body.textContent = "";
  for (const s of doc.source_list) {
    const n = (v) => el("td", { class: "num" }, v == null ? "–" : String(v));
    body.append(el("tr", { "data-cid": s.cid },
      el("td", {}, s.name), el("td", { class: "note" }, s.cid),
      el("td", { class: stateClass(s.state) }, s.state), n(s.priority),
      el("td", {}, s.per_address_priority ? "yes" : ""), n(s.fps), n(s.packets),
      n(s.sequence_errors), n(s.missed), n(s.losses),
      n(s.last_seen == null ? null : s.last_seen.toFixed(1) + " s")));
  }
}

// ---- routing graph and values --------------------------------------------------------------
async function loadGraph() {
  const r = await fetch(url("/api/graph", { offset: state.graphOffset, limit: GRAPH_PAGE }));
  if (!r.ok) return;
  const doc = await r.json();
  state.graphTotal = doc.total;
  const body = $("graph").tBodies[0];
  body.textContent = "";
  const ids = new Set();
  for (const e of doc.edges) {
    ids.add(e.source.id); ids.add(e.target.id);
    body.append(el("tr", {},
      el("td", {}, e.source.label), el("td", { class: "num value", "data-channel": String(e.source.id) }, "–"),
      el("td", {}, "→"),
      el("td", {}, e.target.label), el("td", { class: "num value", "data-channel": String(e.target.id) }, "–")));
  }
  state.graphChannels = [...ids].slice(0, 512);
  $("graph-count").textContent = `${doc.total} mapping(s)`;
  const last = Math.min(doc.total, state.graphOffset + doc.edges.length);
  $("graph-page").textContent = doc.total ? `${state.graphOffset + 1}–${last}` : "none";
  connect();
}
function renderValues(doc) {
  for (const td of document.querySelectorAll("#graph td.value")) {
    const v = doc.values[td.dataset.channel];
    if (v === undefined) continue;
    const text = v == null ? "–" : (v.bits ? String(v.raw) : v.level.toFixed(3));
    if (td.textContent !== text) td.textContent = text;
  }
}

// ---- counters and warnings ---------------------------------------------------------------
function renderCounters(doc) {
  const r = doc.routing;
  $("routing").textContent = `routing: ${r.events} events, ${r.deliveries} deliveries, ${r.frames} frames, ${r.turns} turns`;
  const zeros = $("show-zero").checked;
  const box = $("counters");
  box.textContent = "";
  for (const g of doc.groups) {
    const items = Object.entries(g.counters).filter(([, v]) => zeros || v !== 0)
      .map(([k, v]) => `${k}=${v}`).join(" ");
    box.append(el("div", { class: "counters-group" },
      el("b", {}, `${g.backend} ${g.instance !== undefined ? "instance " + g.instance : g.scope}: `), items));
  }
}
function renderWarnings(doc) {
  const list = $("warnings");
  for (const l of doc.lines) {
    const t = new Date(l.unix_ms).toLocaleTimeString();
    list.prepend(el("li", { class: "level-" + l.level }, el("span", { class: "t" }, t), `${l.level} ${l.target}: ${l.message}`));
  }
  while (list.children.length > 100) list.lastChild.remove();
}

// ---- the stream -------------------------------------------------------------------------
function connect() {
  if (state.source) state.source.close();
  const params = {};
  if (state.universe) params.universe = state.universe;
  if (state.graphChannels.length) params.channels = state.graphChannels.join(",");
  const es = new EventSource(url("/api/events", params));
  state.source = es;
  const status = $("status");
  es.onopen = () => { status.dataset.state = "open"; status.textContent = "live"; };
  es.onerror = () => { status.dataset.state = "closed"; status.textContent = "reconnecting…"; };
  const on = (name, f) => es.addEventListener(name, (m) => f(JSON.parse(m.data)));
  on("instances", (d) => { renderInstances(d); $("meta").textContent = `configuration ${d.generation}`; });
  on("universe", renderUniverse);
  on("values", renderValues);
  on("counters", renderCounters);
  on("warnings", renderWarnings);
  // The configuration was replaced: ids changed, so load the graph again (which reconnects).
  on("reload", () => { es.close(); loadGraph(); });
}

$("universe-pick").addEventListener("change", (e) => {
  state.universe = e.target.value;
  const q = new URLSearchParams(location.search);
  if (state.universe) q.set("universe", state.universe); else q.delete("universe");
  history.replaceState(null, "", "?" + q.toString());
  if (!state.universe) { paintGrid("grid-in", null); paintGrid("grid-out", null); }
  connect();
});
// Reload: the answer says what changed, or every error with its line (nothing changed then).
$("reload").addEventListener("click", async () => {
  const out = $("reload-result");
  out.hidden = false;
  out.textContent = "reloading…";
  try {
    const r = await fetch(url("/api/reload"), { method: "POST" });
    const d = await r.json().catch(() => null);
    out.textContent = d ? d.message : `HTTP ${r.status}`;
    out.dataset.ok = d && d.ok ? "true" : "false";
  } catch (e) {
    out.textContent = String(e);
    out.dataset.ok = "false";
  }
});
$("graph-prev").addEventListener("click", () => { state.graphOffset = Math.max(0, state.graphOffset - GRAPH_PAGE); loadGraph(); });
$("graph-next").addEventListener("click", () => {
  if (state.graphOffset + GRAPH_PAGE < state.graphTotal) { state.graphOffset += GRAPH_PAGE; loadGraph(); }
});

makeGrid("grid-in");
makeGrid("grid-out");
state.universe = new URLSearchParams(location.search).get("universe") || "";
if (state.universe) $("universe-pick").append(el("option", { value: state.universe, selected: "" }, state.universe));
window.patchbay = state;
loadGraph();
