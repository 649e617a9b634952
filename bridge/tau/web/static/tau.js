// Tau's page script: no build step, no library. Reads the page's #boot data, follows
// /ws for live changes, sends changes with the session's CSRF token.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const PAGE = document.body.dataset.page;
  const READ_ONLY = document.body.dataset.readOnly === "1";
  const CSRF = ($('meta[name="csrf"]') || {}).content || "";
  let boot = JSON.parse(($("#boot") || { textContent: "{}" }).textContent || "{}");
  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // ------------------------------------------------------------ talking to the bridge
  async function post(url, body) {
    let res;
    try {
      res = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    } catch (err) {
      return { status: "error", error: "the bridge did not answer (" + err + ")" };
    }
    try {
      return await res.json();
    } catch (err) {
      return { status: "error", error: "HTTP " + res.status };
    }
  }
  const send = (topic, payload) => post("/api/send", { topic, payload });
  const request = (name, body) => post("/api/request/" + name, body);

  // Feedback on a control: sent -> applied (state came back) -> refused (the reason).
  function feedback(out, state, text) {
    if (!out) return;
    out.className = "reply " + state;
    out.textContent = text;
    out.title = text;
  }
  const pending = new Map(); // "fixture:12" -> output element waiting for its state

  // ------------------------------------------------------------ live updates
  let watched = [];
  let socket = null;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    socket = ws;
    ws.onopen = () => {
      $("#conn").className = "dot on";
      ws.send(JSON.stringify({ universes: watched, states: PAGE === "lights" }));
    };
    ws.onclose = () => {
      $("#conn").className = "dot off";
      socket = null;
      setTimeout(connect, 1000);
    };
    ws.onmessage = (ev) => onLive(JSON.parse(ev.data));
  }
  function watch(universes) {
    watched = universes;
    if (socket && socket.readyState === 1) socket.send(JSON.stringify({ universes }));
  }
  const handlers = [];
  function onLive(msg) {
    window.tauLive = (window.tauLive || 0) + 1;
    if (msg.health) {
      const h = msg.health;
      setState("#bridge-health", h.healthy, h.healthy ? "healthy" : "unhealthy");
      setState("#broker-health", h.broker === "connected", h.broker);
      setState("#database-health", h.database === "ok", h.database);
    }
    for (const h of handlers) h(msg);
    if (msg.reload) reload();
  }
  function setState(sel, ok, text) {
    const el = $(sel);
    if (el) el.innerHTML = '<span class="st ' + (ok ? "ok" : "bad") + '">' + esc(text) + "</span>";
  }
  // A server-made page shows a change by loading again, once the change's own reply is in.
  let inflight = 0;
  let reloadWanted = false;
  async function reload() {
    if (!renderers[PAGE]) {
      if (inflight) reloadWanted = true;
      else location.reload();
      return;
    }
    const res = await fetch("/api/" + PAGE + ".json", { credentials: "same-origin" });
    if (res.ok) {
      boot = await res.json();
      renderers[PAGE](true);
    }
  }

  // ------------------------------------------------------------ a virtual list
  // Only the rows on screen exist; 10,000 fixtures cost what a screenful costs.
  function virtualList(box, rowHeight, draw) {
    const spacer = box.querySelector(".spacer");
    let items = [];
    let shown = "";
    function paint(force) {
      const first = Math.max(0, Math.floor(box.scrollTop / rowHeight) - 5);
      const last = Math.min(items.length, first + Math.ceil(box.clientHeight / rowHeight) + 10);
      const key = first + ":" + last;
      if (!force && key === shown) return;
      shown = key;
      let html = "";
      for (let i = first; i < last; i++) html += draw(items[i], i, i * rowHeight);
      spacer.innerHTML = html;
    }
    box.addEventListener("scroll", () => paint(false), { passive: true });
    window.addEventListener("resize", () => paint(true));
    return {
      set(list) {
        items = list;
        spacer.style.height = list.length * rowHeight + "px";
        paint(true);
      },
      repaint: () => paint(true),
      get items() {
        return items;
      },
    };
  }

  // ------------------------------------------------------------ Lights
  function pct(b) {
    return Math.round((b * 100) / 255);
  }
  function hex(c) {
    return "#" + [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, "0")).join("");
  }
  function lightControls(kind, row) {
    const s = row.state || {};
    const on = s.state === "ON";
    const key = kind + ":" + row.slug;
    let html =
      '<span class="name"><b>' + esc(row.name) + "</b> <code>" + esc(row.slug) + "</code>" +
      (kind === "fixture" ? " <small>" + esc(row.model) + " · " + row.universe + "/" + row.start + "</small>" : " <small>" + row.fixtures + " fixtures</small>") +
      "</span>" +
      '<span class="swatch" style="' + swatch(s) + '"></span>' +
      '<span class="val">' + (on ? pct(s.brightness) + " %" : "off") + (s.color_temp ? " " + s.color_temp + " K" : "") +
      (on && s.effect && s.effect !== "none" ? ' <span class="effect">· ' + esc(s.effect) + "</span>" : "") + "</span>";
    if (!READ_ONLY) {
      html +=
        '<button class="toggle' + (on ? " on" : "") + '" data-act="toggle" aria-pressed="' + on + '">' + (on ? "On" : "Off") + "</button>" +
        '<input type="range" min="1" max="255" value="' + (s.brightness || 0) + '" data-act="brightness" aria-label="brightness">';
      const modes = row.modes || [];
      if (modes.includes("color_temp") && row.kelvin) {
        html += '<input type="range" class="kelvin" min="' + row.kelvin[0] + '" max="' + row.kelvin[1] + '" step="50" value="' + (s.color_temp || row.kelvin[0]) + '" data-act="kelvin" aria-label="colour temperature">';
      }
      if (modes.some((m) => m === "rgb" || m === "rgbw" || m === "rgbww")) {
        html += '<input type="color" value="' + (s.color ? hex(s.color) : "#ffffff") + '" data-act="color" aria-label="colour">';
      }
      const effects = row.effects || [];
      if (effects.length > 1) {
        const current = on && s.effect ? s.effect : "none";
        html += '<select data-act="effect" aria-label="effect">' +
          ["none", ...effects.filter((e) => e !== "none")].map((e) => '<option value="' + esc(e) + '"' + (e === current ? " selected" : "") + ">" + (e === "none" ? "no effect" : esc(e)) + "</option>").join("") +
          "</select>";
      }
      const out = pending.get(key);
      html += '<output class="' + (out ? out.cls : "reply") + '">' + (out ? esc(out.text) : "") + "</output>";
    }
    return html;
  }
  function swatch(s) {
    if (s.state !== "ON") return "background:#222";
    const a = 0.25 + (0.75 * s.brightness) / 255;
    if (s.color) return "background:rgba(" + s.color.r + "," + s.color.g + "," + s.color.b + "," + a + ")";
    if (s.color_temp) {
      const t = Math.min(1, Math.max(0, (s.color_temp - 2000) / 4500));
      return "background:rgba(255," + Math.round(170 + 75 * t) + "," + Math.round(90 + 165 * t) + "," + a + ")";
    }
    return "background:rgba(255,230,180," + a + ")";
  }
  function lightCommand(kind, row, act, input) {
    const t = parseFloat(($("#transition") || {}).value);
    const cmd = {};
    if (act === "toggle") cmd.state = row.state && row.state.state === "ON" ? "OFF" : "ON";
    if (act === "brightness") Object.assign(cmd, { state: "ON", brightness: parseInt(input.value, 10) });
    if (act === "kelvin") Object.assign(cmd, { state: "ON", color_temp_kelvin: parseInt(input.value, 10) });
    if (act === "color") {
      const v = input.value;
      Object.assign(cmd, { state: "ON", color: { r: parseInt(v.slice(1, 3), 16), g: parseInt(v.slice(3, 5), 16), b: parseInt(v.slice(5, 7), 16) } });
    }
    if (act === "effect") Object.assign(cmd, input.value === "none" ? { effect: "none" } : { state: "ON", effect: input.value });
    if (!isNaN(t)) cmd.transition = t;
    const key = kind + ":" + row.slug;
    const mark = (cls, text) => {
      pending.set(key, { cls: "reply " + cls, text, at: Date.now() });
      const el = document.querySelector('[data-key="' + key + '"] output');
      feedback(el, cls, text);
    };
    mark("sent", "sent…");
    const sentAt = Date.now();
    send(kind + "/" + row.slug + "/set", cmd).then((reply) => {
      if (reply.status !== "ok") return mark("refused", "refused: " + reply.error);
      // Taken, but no state came back (it already was so): say that, not "applied".
      setTimeout(() => {
        const p = pending.get(key);
        if (p && p.cls === "reply sent" && p.at <= sentAt) mark("applied", "taken, nothing changed");
      }, 2000);
    });
  }
  function stateCame(kind, row) {
    const key = kind + ":" + row.slug;
    const p = pending.get(key);
    if (p && p.cls === "reply sent") {
      pending.set(key, { cls: "reply applied", text: "applied", at: Date.now() });
      // Said at once, even where the row is not redrawn (a slider held).
      const el = document.querySelector('[data-key="' + key + '"] output');
      if (el) feedback(el, "applied", "applied");
    }
  }
  function renderLights() {
    const t = $("#transition");
    if (t && t.value === "") t.value = boot.transition;
    const byId = { fixture: new Map(), group: new Map() };
    boot.fixtures.forEach((f) => byId.fixture.set(String(f.id), f));
    boot.groups.forEach((g) => byId.group.set(String(g.id), g));
    const groupsBox = $("#groups");
    const drawGroup = (g) =>
      '<div class="row" data-key="group:' + esc(g.slug) + '" style="padding-left:' + (0.5 + g.depth * 1.5) + 'em">' + lightControls("group", g) + "</div>";
    groupsBox.innerHTML = boot.groups.map(drawGroup).join("") || "<p>No groups.</p>";
    const filter = $("#filter");
    const list = virtualList($("#fixtures"), 44, (f, i, top) =>
      '<div class="row" data-key="fixture:' + esc(f.slug) + '" style="top:' + top + 'px">' + lightControls("fixture", f) + "</div>");
    const apply = () => {
      const q = filter.value.trim().toLowerCase();
      const shown = q ? boot.fixtures.filter((f) => (f.name + " " + f.slug + " " + f.model).toLowerCase().includes(q)) : boot.fixtures;
      list.set(shown);
      $("#fixture-count").textContent = shown.length + " of " + boot.fixtures.length;
    };
    filter.oninput = apply;
    apply();
    const find = (el) => {
      const rowEl = el.closest("[data-key]");
      if (!rowEl) return null;
      const [kind, slug] = rowEl.dataset.key.split(":");
      const rows = kind === "group" ? boot.groups : boot.fixtures;
      return { kind, row: rows.find((r) => r.slug === slug) };
    };
    const act = (ev) => {
      const act = ev.target.dataset.act;
      if (!act) return;
      if (ev.type === "click" && act !== "toggle") return;
      if (ev.type === "change" && act === "toggle") return;
      const found = find(ev.target);
      if (found && found.row) lightCommand(found.kind, found.row, act, ev.target);
    };
    for (const box of [groupsBox, $("#fixtures")]) {
      box.onclick = act;
      box.onchange = act;
    }
    renderLights.update = (msg) => {
      let groupsChanged = false;
      let fixturesChanged = false;
      for (const [id, s] of Object.entries(msg.fixtures || {})) {
        const f = byId.fixture.get(id);
        if (f) {
          f.state = s;
          stateCame("fixture", f);
          fixturesChanged = true;
        }
      }
      for (const [id, s] of Object.entries(msg.groups || {})) {
        const g = byId.group.get(id);
        if (g) {
          g.state = s;
          stateCame("group", g);
          groupsChanged = true;
        }
      }
      const busy = document.activeElement && document.activeElement.type === "range";
      if (groupsChanged && !busy) groupsBox.innerHTML = boot.groups.map(drawGroup).join("");
      if (fixturesChanged && !busy) list.repaint();
    };
  }

  // ------------------------------------------------------------ Universes
  const COLS = 32, CW = 30, CH = 22;
  const ALL_CHANNELS = Array.from({ length: 512 }, (_, i) => i + 1);
  function renderUniverses() {
    const box = $("#universes");
    const tip = $("#tip");
    box.innerHTML = "";
    const blocks = new Map();
    const entries = Object.entries(boot.universes).sort((a, b) => a[0] - b[0]);
    if (!entries.length) box.innerHTML = "<p>No fixture is patched yet.</p>";
    // Each universe is drawn when it first comes on screen: 64 universes cost what 2 do.
    for (const [u, info] of entries) {
      const el = document.createElement("section");
      el.className = "universe";
      el.dataset.universe = u;
      el.innerHTML =
        "<h2>Universe " + esc(u) + ' <small class="out">' + esc(info.output) + '</small> <small class="rate"></small></h2>' +
        '<canvas width="' + COLS * CW + '" height="' + 16 * CH + '"></canvas><ul class="legend"></ul>';
      box.appendChild(el);
      blocks.set(u, { el, canvas: el.querySelector("canvas"), owner: null, levels: new Uint8Array(512), info, updates: 0, since: performance.now() });
    }
    function fill(u, block) {
      const owner = new Array(513).fill(null);
      block.info.fixtures.forEach((f, n) => {
        f.roles.forEach((role, i) => {
          if (f.start + i <= 512) owner[f.start + i] = { f, i, n };
        });
      });
      block.owner = owner;
      block.el.querySelector(".legend").innerHTML = block.info.fixtures
        .map((f, n) => '<li style="--c:' + hue(n) + '"><b>' + f.start + "–" + (f.start + f.roles.length - 1) + "</b> " + esc(f.slug) + " <small>" + esc(f.model) + "</small></li>")
        .join("");
      const canvas = block.canvas;
      drawUniverse(block);
      canvas.addEventListener("mousemove", (ev) => {
        const r = canvas.getBoundingClientRect();
        const col = Math.floor(((ev.clientX - r.left) * canvas.width) / r.width / CW);
        const row = Math.floor(((ev.clientY - r.top) * canvas.height) / r.height / CH);
        const ch = row * COLS + col + 1;
        if (ch < 1 || ch > 512) return;
        tip.hidden = false;
        tip.style.left = ev.pageX + 12 + "px";
        tip.style.top = ev.pageY + 12 + "px";
        tip.textContent = describe(u, ch, owner[ch], block.levels[ch - 1]);
      });
      canvas.addEventListener("mouseleave", () => (tip.hidden = true));
    }
    const visible = new Set();
    const io = new IntersectionObserver((seen) => {
      for (const s of seen) {
        const u = s.target.dataset.universe;
        if (s.isIntersecting) {
          const block = blocks.get(u);
          if (!block.owner) fill(u, block);
          visible.add(parseInt(u, 10));
        } else visible.delete(parseInt(u, 10));
      }
      watch(Array.from(visible).sort((a, b) => a - b));
    });
    blocks.forEach((b) => io.observe(b.el));
    renderUniverses.update = (msg) => {
      for (const [u, hexText] of Object.entries(msg.levels || {})) {
        const b = blocks.get(u);
        if (!b || !b.owner) continue;
        const changed = [];
        for (let i = 0; i < 512; i++) {
          const v = i * 2 < hexText.length ? parseInt(hexText.substr(i * 2, 2), 16) : 0;
          if (v !== b.levels[i]) {
            b.levels[i] = v;
            changed.push(i + 1);
          }
        }
        b.el.dataset.levels = hexText;
        b.updates++;
        const now = performance.now();
        if (now - b.since > 1000) {
          b.el.querySelector(".rate").textContent = Math.round((b.updates * 1000) / (now - b.since)) + " updates/s";
          b.updates = 0;
          b.since = now;
        }
        drawUniverse(b, changed);
      }
    };
  }
  function hue(n) {
    return "hsl(" + ((n * 67) % 360) + ",70%,55%)";
  }
  function describe(u, ch, own, value) {
    const head = "Universe " + u + " channel " + ch + ": ";
    if (!own) return head + "free (value " + value + ")";
    const role = own.f.roles[own.i];
    const text = head + own.f.slug + " (" + own.f.name + ", " + own.f.model + "), channel " + (own.i + 1) + " " + role;
    if (role === "fixed") return text + ", parked at " + (own.f.fixed[own.i] || 0) + ": not a light channel, held where the definition says it is open or off";
    return text + ", value " + value;
  }
  // Only the channels that changed are drawn again: a page left open costs little.
  function drawUniverse(b, channels) {
    const g = b.canvas.getContext("2d");
    g.font = "10px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (const ch of channels || ALL_CHANNELS) {
      const x = ((ch - 1) % COLS) * CW, y = Math.floor((ch - 1) / COLS) * CH;
      const v = b.levels[ch - 1];
      const own = b.owner[ch];
      g.fillStyle = own ? "rgb(" + Math.round(30 + v * 0.85) + "," + Math.round(30 + v * 0.8) + "," + Math.round(40 + v * 0.6) + ")" : "#15171c";
      g.fillRect(x + 1, y + 1, CW - 2, CH - 2);
      if (own) {
        g.fillStyle = hue(own.n);
        g.fillRect(x + 1, y + CH - 4, CW - 2, 3);
        if (own.i === 0) g.fillRect(x, y, 2, CH);
      }
      g.fillStyle = v > 140 ? "#111" : "#bbb";
      g.fillText(own && own.i === 0 ? own.f.slug.slice(0, 5) : String(v), x + 3, y + CH / 2 - 1);
    }
  }

  // ------------------------------------------------------------ Patch
  function renderPatch() {
    $("#model-names").innerHTML = boot.models.map((m) => '<option value="' + esc(m.name) + '">').join("");
    $("#fixture-slugs").innerHTML = boot.fixtures.map((f) => '<option value="' + esc(f.slug) + '">').join("");
    $("#group-slugs").innerHTML = boot.groups.map((g) => '<option value="' + esc(g.slug) + '">').join("");
    $("#profile-names").innerHTML = boot.profiles.map((p) => '<option value="' + esc(p) + '">').join("");
    const models = virtualList($("#models"), 30, (m, i, top) =>
      '<div class="row model" data-i="' + i + '" style="top:' + top + 'px"><b>' + esc(m.name) + "</b> <small>" + m.channels.length + " channels · " + esc(m.modes.join(", ")) + "</small></div>");
    const search = $("#model-search");
    const applyModels = () => {
      const q = search.value.trim().toLowerCase();
      models.set(q ? boot.models.filter((m) => m.name.toLowerCase().includes(q)) : boot.models);
    };
    search.oninput = applyModels;
    applyModels();
    $("#models").onclick = (ev) => {
      const row = ev.target.closest(".model");
      if (!row) return;
      const m = models.items[parseInt(row.dataset.i, 10)];
      $("#channels").innerHTML = "<h3>" + esc(m.name) + "</h3><ol>" + m.channels.map((c) => "<li>" + esc(c) + "</li>").join("") + "</ol>";
      const form = $('form[data-request="fixture/add"]');
      if (form) form.model.value = m.name;
    };
    const perUniverse = new Map();
    for (const f of boot.fixtures) {
      const key = String(f.universe);
      if (!perUniverse.has(key)) perUniverse.set(key, []);
      perUniverse.get(key).push(f);
    }
    const lib = $("#library-search");
    let timer = null;
    lib.oninput = () => {
      clearTimeout(timer);
      timer = setTimeout(searchLibrary, 300);
    };
    async function searchLibrary() {
      const box = $("#library");
      const q = lib.value.trim();
      if (q.length < 2) return (box.innerHTML = "");
      box.innerHTML = "<p class=hint>searching…</p>";
      const res = await fetch("/api/library?q=" + encodeURIComponent(q), { credentials: "same-origin" });
      const reply = await res.json();
      if (reply.status !== "ok") return (box.innerHTML = '<p class="refused">' + esc(reply.error) + "</p>");
      const found = reply.data.matches;
      box.innerHTML =
        (found.length ? "" : "<p>No definition matches.</p>") +
        found.map((d, i) =>
          '<div class="def"><b>' + esc(d.name) + "</b>" + (d.error ? ' <span class="refused">' + esc(d.error) + "</span>" :
            " " + d.modes.map((m, j) => m.skipped
              ? '<span class="mode skipped" title="' + esc(m.skipped) + '">' + esc(m.mode) + " (skipped)</span>"
              : '<button class="mode" data-def="' + i + '" data-mode="' + j + '">' + esc(m.mode) + " · " + m.channels.length + " ch" + (m.imported ? " ✓" : "") + "</button>").join(" ")) +
          "</div>").join("") +
        (reply.data.more ? "<p class=hint>and " + reply.data.more + " more: type more of the name</p>" : "");
      box.onclick = (ev) => {
        const b = ev.target.closest("button.mode");
        if (!b) return;
        const d = found[parseInt(b.dataset.def, 10)];
        const m = d.modes[parseInt(b.dataset.mode, 10)];
        const form = $('form[data-request="fixture/add"]');
        const how = m.imported
          ? "imported as <code>" + esc(m.model) + "</code>" + (form ? " (put in the Add form)" : "")
          : "not imported yet: <code>tau fixtures import '" + esc(d.path) + "'</code>" +
            (READ_ONLY ? "" : ' <button class="import">Import</button> <output class="reply"></output>');
        $("#channels").innerHTML = "<h3>" + esc(d.name) + " · " + esc(m.mode) + "</h3><p>" + how + "</p><ol>" +
          m.channels.map((c) => "<li>" + esc(c[0]) + " <small>" + esc(c[1]) + "</small></li>").join("") + "</ol>";
        if (m.imported && form) form.model.value = m.model;
        const importButton = $("#channels button.import");
        if (importButton) importButton.onclick = () => importDefinition(d, importButton.nextElementSibling);
      };
    }
    // `tau fixtures import FILE` from the page: the CLI's own lines, shown where it was asked.
    async function importDefinition(d, out) {
      feedback(out, "sent", "importing…");
      inflight++;
      let reply;
      try {
        reply = await post("/api/library/import", { path: d.path });
      } finally {
        inflight--;
      }
      if (reply.status === "ok") {
        const text = "imported: " + reply.data.join(" · ");
        feedback(out, "applied", text);
        sessionStorage.setItem("tau-last", JSON.stringify({ name: "import " + d.name, text }));
      } else {
        feedback(out, "refused", "refused: " + reply.error);
      }
      if (reloadWanted && !inflight) location.reload();
    }
    $("#map").innerHTML = Object.entries(boot.universes)
      .sort((a, b) => a[0] - b[0])
      .map(([u, free]) => {
        const mine = perUniverse.get(u) || [];
        const bars = mine.map((f, n) => '<span class="used" style="left:' + ((f.start - 1) / 5.12) + "%;width:" + f.footprint / 5.12 + "%;background:" + hue(n) + '" title="' + esc(f.slug + " " + f.start + "–" + (f.start + f.footprint - 1)) + '"></span>').join("");
        return '<div class="umap"><b>Universe ' + esc(u) + '</b><div class="track">' + bars + '</div><small>free: ' + free.map((r) => (r[0] === r[1] ? r[0] : r[0] + "–" + r[1])).join(", ") + "</small></div>";
      })
      .join("") || "<p>No fixture is patched yet.</p>";
    const list = virtualList($("#fixtures"), 30, (f, i, top) =>
      '<div class="row" style="top:' + top + 'px"><code>' + esc(f.slug) + "</code> " + esc(f.name) + " <small>" + esc(f.model) + "</small> <span class=addr>" + f.universe + "/" + f.start + "–" + (f.start + f.footprint - 1) + "</span></div>");
    const filter = $("#filter");
    const apply = () => {
      const q = filter.value.trim().toLowerCase();
      const shown = q ? boot.fixtures.filter((f) => (f.slug + " " + f.name + " " + f.model).toLowerCase().includes(q)) : boot.fixtures;
      list.set(shown);
      $("#fixture-count").textContent = shown.length + " of " + boot.fixtures.length;
    };
    filter.oninput = apply;
    apply();
  }

  // ------------------------------------------------------------ forms and buttons
  function formBody(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.value === "") {
        if (el.dataset.null !== undefined) body[el.name] = null; // emptied: clears the setting
        continue;
      }
      body[el.name] = el.type === "number" ? Number(el.value) : el.value;
    }
    if (body.model && /^\d+$/.test(body.model)) body.model = Number(body.model);
    return body;
  }
  async function runRequest(name, body, out) {
    feedback(out, "sent", "sent…");
    inflight++;
    let reply;
    try {
      reply = await request(name, body);
    } finally {
      inflight--;
    }
    if (reply.status === "ok") {
      feedback(out, "applied", "done" + summary(reply.data));
      sessionStorage.setItem("tau-last", JSON.stringify({ name, text: "done" + summary(reply.data) }));
    } else {
      feedback(out, "refused", "refused: " + reply.error);
    }
    if (reloadWanted && !inflight) location.reload();
    return reply;
  }
  function summary(data) {
    if (!data || typeof data !== "object") return "";
    if (data.fixtures && Array.isArray(data.fixtures)) return ": " + data.fixtures.map((f) => f.slug).join(", ");
    const what = data.slug || data.name;
    return what ? ": " + what : "";
  }
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.dataset.plain !== undefined) return;
    ev.preventDefault();
    if (form.dataset.request) runRequest(form.dataset.request, formBody(form), form.querySelector(".reply"));
  });
  document.addEventListener("click", async (ev) => {
    const el = ev.target;
    if (el.classList.contains("cmd")) {
      const out = el.parentElement.querySelector(".reply");
      feedback(out, "sent", "sent…");
      const reply = await send(el.dataset.topic, el.dataset.payload);
      if (reply.status === "ok") feedback(out, "applied", "applied");
      else feedback(out, "refused", "refused: " + reply.error);
    } else if (el.classList.contains("req-button")) {
      await runRequest(el.dataset.request, JSON.parse(el.dataset.body), el.parentElement.querySelector(".reply"));
    }
  });

  // ------------------------------------------------------------ live bits of other pages
  handlers.push((msg) => {
    if (msg.problems && msg.problems.length) {
      const ul = $("#problems");
      if (ul) {
        for (const p of msg.problems) {
          const li = document.createElement("li");
          li.innerHTML = "<time>" + esc(p.at) + "</time> <code>" + esc(p.topic) + "</code> " + esc(p.text);
          ul.prepend(li);
        }
        while (ul.children.length > 20) ul.lastChild.remove();
        const r = $("#rejected");
        if (r) r.textContent = (parseInt(r.textContent, 10) + msg.problems.length) + " refused so far";
      }
    }
    if (msg.inputs) {
      for (const p of msg.inputs) {
        for (const card of $$("section.switch").filter((c) => c.dataset.topics.split(" ").includes(p.topic))) {
          const li = document.createElement("li");
          li.innerHTML = "<time>" + esc(p.at) + "</time> " + esc(p.text);
          const ul = card.querySelector(".presses");
          ul.prepend(li);
          while (ul.children.length > 10) ul.lastChild.remove();
        }
      }
    }
    if (PAGE === "lights" && renderLights.update) renderLights.update(msg);
    if (PAGE === "universes" && renderUniverses.update) renderUniverses.update(msg);
  });
  const renderers = { lights: renderLights, universes: renderUniverses, patch: renderPatch };
  if (PAGE === "switches" && boot.presses) {
    onLive({ inputs: boot.presses });
  }
  // What a change did, kept across the reload that follows it (a new scene, a group).
  const last = sessionStorage.getItem("tau-last");
  if (last) {
    sessionStorage.removeItem("tau-last");
    const { name, text } = JSON.parse(last);
    const flash = document.createElement("p");
    flash.className = "flash";
    flash.textContent = name + ": " + text;
    $("main").prepend(flash);
  }
  if (renderers[PAGE]) renderers[PAGE](false);
  if (PAGE !== "login") connect();
  document.body.dataset.ready = "1";
})();
