// The geocube-ingester dashboard: plain JavaScript over the gateway's HTTP API (docs/dashboard.md).
//
// The token is asked once and kept in sessionStorage (this tab only), sent as `Authorization: Bearer`
// on every request and never put in a URL (URLs end up in logs and in the browser's history).
// Live updates come from the AOI status long-poll: each answer (a status change, or the `wait` running
// out while the AOI works) triggers one refresh of the counts, scenes and tiles.
"use strict";

(function () {
  const TOKEN_KEY = "geocube-ingester.token";
  const WAIT_SECONDS = 2; // long-poll wait: the longest a count change takes to show while nothing else moves
  const LIST_SECONDS = 10; // AOI list refresh while an AOI is followed and its status does not change
  const STATUSES = ["NEW", "PENDING", "DONE", "RETRY", "FAILED"];
  const COLORS = { NEW: "#9ca3af", PENDING: "#2563eb", DONE: "#16a34a", RETRY: "#ea580c", FAILED: "#dc2626" };

  const $ = (id) => document.getElementById(id);
  let follow = null; // {aoi, controller} of the AOI being followed
  let map = null;
  let footprints = null; // Leaflet GeoJSON layer of the followed AOI
  let footprintsAoi = null;
  let footprintsCount = 0; // features read, drawn or not (a scene without a footprint has no layer)

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class Unauthorized extends Error {}
  class HttpError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    const token = sessionStorage.getItem(TOKEN_KEY) || "";
    const headers = { ...(options.headers || {}), Authorization: "Bearer " + token };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 403 && !path.match(/\/(retry|fail)$/)) throw new Unauthorized(await response.text());
    return response;
  }

  async function json(path, signal) {
    const response = await api(path, { signal });
    if (!response.ok) throw new HttpError(`${path}: ${response.status} ${await response.text()}`, response.status);
    return response.json();
  }

  const enc = encodeURIComponent;

  // ------------------------------------------------------------------------------------------------
  // Sign-in

  function showLogin(message) {
    stopFollowing();
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  async function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await loadAois();
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin("The gateway refused this token.");
      throw error;
    }
    $("login").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    route();
    watchList();
  }

  // While no AOI is followed nothing else refreshes the list, so new AOIs would not show: reload it
  // every few seconds then (a followed AOI's loop reloads it on each long-poll answer instead).
  let watchingList = false;
  async function watchList() {
    if (watchingList) return;
    watchingList = true;
    try {
      while (!$("app").hidden) {
        await new Promise((resolve) => setTimeout(resolve, WAIT_SECONDS * 1000));
        if (follow || $("app").hidden) continue;
        try {
          await loadAois();
        } catch (error) {
          if (error instanceof Unauthorized) return showLogin("The gateway no longer accepts this token.");
          $("connection").textContent = "reconnecting: " + error.message;
        }
      }
    } finally {
      watchingList = false;
    }
  }

  // ------------------------------------------------------------------------------------------------
  // AOI list

  async function loadAois(signal) {
    const aois = await json("/ui/api/aois", signal);
    const list = $("aoi-list");
    list.replaceChildren(
      ...aois.map((aoi) =>
        el(
          "li",
          { "data-aoi": aoi.id, "data-status": aoi.status, class: follow && follow.aoi === aoi.id ? "selected" : "" },
          el(
            "a",
            { href: "#aoi=" + enc(aoi.id) },
            aoi.id + " ",
            el("span", { class: "badge status-" + aoi.status }, aoi.status),
            el("br"),
            el("progress", { max: Math.max(aoi.tiles.total, 1), value: aoi.tiles.done }),
            el("span", { class: "muted" }, `${aoi.tiles.done}/${aoi.tiles.total} tiles done`),
          ),
        ),
      ),
    );
    $("aoi-empty").hidden = aois.length > 0;
    $("connection").textContent = "connected";
  }

  // ------------------------------------------------------------------------------------------------
  // One AOI

  function route() {
    const match = location.hash.match(/^#aoi=(.+)$/);
    const aoi = match ? decodeURIComponent(match[1]) : null;
    if (aoi && (!follow || follow.aoi !== aoi)) startFollowing(aoi);
    for (const li of $("aoi-list").children) li.classList.toggle("selected", li.dataset.aoi === aoi);
    $("pick").hidden = !!aoi;
    $("aoi").hidden = !aoi;
  }

  function stopFollowing() {
    if (follow) follow.controller.abort();
    follow = null;
  }

  function startFollowing(aoi) {
    stopFollowing();
    const controller = new AbortController();
    follow = { aoi, controller };
    $("aoi-name").textContent = aoi;
    $("aoi-status").textContent = "…";
    $("notice").textContent = "";
    followLoop(aoi, controller.signal);
  }

  async function followLoop(aoi, signal) {
    let known = "";
    let listed = 0; // when the AOI list was last reloaded
    while (!signal.aborted) {
      try {
        // The list costs one report per AOI: reloaded when the followed AOI changes status, else every
        // LIST_SECONDS, not on every answer.
        const reloadList = Date.now() - listed > LIST_SECONDS * 1000;
        await refresh(aoi, signal, reloadList);
        if (reloadList) listed = Date.now();
        const answer = await json(`/aoi/${enc(aoi)}/status?known=${enc(known)}&wait=${WAIT_SECONDS}`, signal);
        if (answer.changed) listed = 0;
        known = answer.status;
        $("connection").textContent = "live";
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof Unauthorized) return showLogin("The gateway no longer accepts this token.");
        if (error instanceof HttpError && error.status === 404) {
          // Deleted meanwhile (DELETE /aoi/{aoi}): nothing left to follow.
          $("notice").textContent = `AOI ${aoi} no longer exists.`;
          $("aoi").dataset.status = "GONE";
          loadAois(signal).catch(() => {});
          return;
        }
        // The gateway restarting or a network blip: say so, then try again (the loop is the retry).
        $("connection").textContent = "reconnecting: " + error.message;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  async function refresh(aoi, signal, reloadList = true) {
    const [summary, scenes] = await Promise.all([
      json(`/ui/api/aoi/${enc(aoi)}`, signal),
      json(`/ui/api/aoi/${enc(aoi)}/scenes`, signal),
      reloadList ? loadAois(signal) : null,
    ]);
    if (signal.aborted) return;
    showSummary(summary);
    showFailed(scenes.scenes);
    await showMap(aoi, scenes.scenes, signal);
    showGraph(scenes.scenes);
  }

  function showSummary(summary) {
    const status = $("aoi-status");
    status.textContent = summary.status;
    status.className = "badge status-" + summary.status;
    $("aoi").dataset.status = summary.status;
    for (const kind of ["scenes", "tiles"]) {
      const c = summary[kind];
      $(kind + "-progress").max = Math.max(c.total, 1);
      $(kind + "-progress").value = c.done;
      $(kind + "-done").textContent = `${c.done}/${c.total} done`;
    }
    $("counts").tBodies[0].replaceChildren(
      ...["scenes", "tiles"].map((kind) =>
        el(
          "tr",
          { "data-kind": kind },
          el("th", {}, kind),
          ...STATUSES.map((s) => el("td", { "data-status": s }, summary[kind][s.toLowerCase()])),
          el("td", { "data-status": "total" }, summary[kind].total),
        ),
      ),
    );
  }

  function showFailed(scenes) {
    const rows = [];
    for (const scene of scenes) {
      if (scene.status === "FAILED" || scene.status === "RETRY") rows.push(["scene", scene]);
      for (const tile of scene.tiles)
        if (tile.status === "FAILED" || tile.status === "RETRY") rows.push(["tile", tile]);
    }
    $("failed").tBodies[0].replaceChildren(
      ...rows.map(([kind, item]) =>
        el(
          "tr",
          { "data-kind": kind, "data-id": item.id, "data-status": item.status },
          el("td", {}, kind),
          el("td", {}, item.id),
          el("td", { class: "source" }, item.source_id),
          el("td", {}, el("span", { class: "badge status-" + item.status }, item.status)),
          el("td", { class: "message" }, item.message),
          el(
            "td",
            { class: "actions" },
            // The workflow only retries or fails an item in RETRY; a FAILED one needs a forced retry of the AOI.
            el("button", { class: "retry", type: "button", onclick: () => act(kind, item.id, "retry") }, "Retry"),
            el("button", { class: "fail", type: "button", onclick: () => act(kind, item.id, "fail") }, "Fail"),
          ),
        ),
      ),
    );
    $("failed-none").hidden = rows.length > 0;
    $("failed").hidden = rows.length === 0;
  }

  async function act(kind, id, action) {
    const response = await api(`/${kind}/${id}/${action}`, { method: "PUT" });
    const text = (await response.text()).trim();
    // A refused change is an empty 403; a 403 with a text is the token being refused.
    if (response.status === 403 && text) return showLogin("The gateway no longer accepts this token.");
    const outcome = response.ok
      ? `${kind} ${id}: ${action} accepted`
      : response.status === 403
        ? `${kind} ${id}: its current status refuses ${action}`
        : `${kind} ${id}: ${action} refused (${response.status}) ${text}`;
    $("notice").textContent = outcome;
    if (follow) await refresh(follow.aoi, follow.controller.signal);
  }

  // ------------------------------------------------------------------------------------------------
  // Map: a blank basemap (no tile server is reachable offline), scene footprints coloured by status.

  async function showMap(aoi, scenes, signal) {
    if (!map) {
      map = L.map("map", { attributionControl: false, zoomSnap: 0.25 }).setView([0, 0], 1);
      $("legend").replaceChildren(...STATUSES.map((s) => el("span", { class: "status-" + s }, s)));
    }
    // Footprints never change once ingested: fetched again only when the AOI gains scenes.
    if (footprintsAoi !== aoi || !footprints || footprintsCount < scenes.length) {
      const collection = await json(`/ui/api/aoi/${enc(aoi)}/footprints`, signal);
      if (signal.aborted) return;
      if (footprints) footprints.remove();
      footprints = L.geoJSON(collection, { style: { weight: 2, fillOpacity: 0.3 } }).addTo(map);
      footprintsAoi = aoi;
      footprintsCount = collection.features.length;
      const bounds = footprints.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
    }
    const byId = new Map(scenes.map((s) => [s.id, s]));
    const drawn = [];
    footprints.eachLayer((layer) => {
      const scene = byId.get(layer.feature.properties.id);
      if (!scene) return;
      const worst = sceneColourStatus(scene);
      layer.setStyle({ color: COLORS[worst], fillColor: COLORS[worst] });
      const element = layer.getElement();
      if (element) element.setAttribute("data-status", worst);
      const tiles = scene.tiles.map((t) => `${t.source_id}: ${t.status}`).join("\n");
      // An element, not a string: Leaflet puts a string in as HTML, and messages are not ours to trust.
      const text = `${scene.source_id}\nscene ${scene.status}${scene.message ? " — " + scene.message : ""}\n${tiles}`;
      layer.bindTooltip(el("div", { style: "white-space: pre" }, text));
      drawn.push([RANK.indexOf(worst), layer]);
    });
    // Footprints of one tile on several dates overlap exactly: the most urgent status is drawn on top.
    drawn.sort((a, b) => b[0] - a[0]).forEach(([, layer]) => layer.bringToFront());
  }

  // A footprint shows the scene with its tiles: the first of FAILED, RETRY, PENDING, NEW that any has,
  // else DONE — so a DONE download whose tile failed still stands out on the map.
  const RANK = ["FAILED", "RETRY", "PENDING", "NEW", "DONE"]; // most urgent first
  function sceneColourStatus(scene) {
    const all = [scene.status, ...scene.tiles.map((t) => t.status)];
    return RANK.find((s) => all.includes(s));
  }

  // ------------------------------------------------------------------------------------------------
  // Dependency graph: a layered layout in SVG. Column 0 holds the scenes; a tile sits one column right
  // of its previous tile (column 1 without one), so a Sentinel-1 time series reads left to right.

  function showGraph(scenes) {
    const tiles = new Map();
    for (const scene of scenes) for (const tile of scene.tiles) tiles.set(tile.id, tile);
    const depth = new Map();
    const depthOf = (tile, seen = new Set()) => {
      if (depth.has(tile.id)) return depth.get(tile.id);
      const previous = tiles.get(tile.previous_id);
      // A cycle cannot be stored (a previous tile is older); the guard keeps a corrupt graph drawable.
      const d = previous && !seen.has(previous.id) ? depthOf(previous, seen.add(tile.id)) + 1 : 1;
      depth.set(tile.id, d);
      return d;
    };
    const columns = [scenes.map((s) => ({ key: "s" + s.id, label: s.source_id, status: s.status }))];
    for (const tile of tiles.values()) {
      const d = depthOf(tile);
      while (columns.length <= d) columns.push([]);
      columns[d].push({ key: "t" + tile.id, label: tile.source_id, status: tile.status, tile });
    }
    const W = 220, H = 28, GAP_X = 60, GAP_Y = 10, PAD = 10;
    const where = new Map();
    columns.forEach((column, c) =>
      column.forEach((node, r) => where.set(node.key, { x: PAD + c * (W + GAP_X), y: PAD + r * (H + GAP_Y), node })),
    );
    const rows = Math.max(1, ...columns.map((c) => c.length));
    const root = svg("svg", {
      width: PAD * 2 + columns.length * (W + GAP_X) - GAP_X,
      height: PAD * 2 + rows * (H + GAP_Y) - GAP_Y,
      role: "img",
      "aria-label": "dependency graph",
    });
    const defs = svg("defs", {});
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6b7280" }));
    defs.append(marker);
    root.append(defs);
    const edge = (from, to, dashed) => {
      const a = where.get(from), b = where.get(to);
      if (!a || !b) return;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      root.append(svg("path", {
        class: dashed ? "edge owns" : "edge previous",
        "data-from": from,
        "data-to": to,
        d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
        fill: "none", stroke: "#9ca3af", "stroke-dasharray": dashed ? "4 3" : "", "marker-end": "url(#arrow)",
      }));
    };
    for (const tile of tiles.values()) {
      edge("s" + tile.scene_id, "t" + tile.id, true);
      if (tile.previous_id != null) edge("t" + tile.previous_id, "t" + tile.id, false);
    }
    for (const { x, y, node } of where.values()) {
      const group = svg("g", { class: "node", "data-key": node.key, "data-status": node.status });
      group.append(svg("rect", { x, y, width: W, height: H, rx: 4, fill: "#fff", stroke: COLORS[node.status] || "#000", "stroke-width": 2 }));
      group.append(svg("rect", { x, y, width: 6, height: H, rx: 2, fill: COLORS[node.status] || "#000" }));
      const label = node.label.length > 33 ? node.label.slice(0, 31) + "…" : node.label;
      group.append(svg("text", { x: x + 12, y: y + H / 2 + 4 }, label));
      group.append(svg("title", {}, `${node.label}: ${node.status}`));
      root.append(group);
    }
    $("graph").replaceChildren(root);
  }

  // ------------------------------------------------------------------------------------------------

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value).catch((error) => showLogin(error.message));
  });
  $("sign-out").addEventListener("click", () => showLogin(""));
  window.addEventListener("hashchange", route);

  if (sessionStorage.getItem(TOKEN_KEY) !== null) signIn(sessionStorage.getItem(TOKEN_KEY)).catch((e) => showLogin(e.message));
  else showLogin("");
})();
