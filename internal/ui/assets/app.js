// l2gw status page: renders the server's topology snapshots, pushed over
// Server-Sent Events (GET api/events, "snapshot" events). No polling: the
// browser's EventSource reconnects by itself; only when the stream is
// closed for good (the server refused it) does the page retry, after
// checking why with one GET api/topology.
"use strict";

const $ = (id) => document.getElementById(id);

// el builds an element; children are nodes or text (never parsed as HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const stateLabel = { in_sync: "in sync", pending: "pending", error: "error" };
const badge = (cls, text) => el("span", { class: "badge " + cls }, text);

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function reason(state, text) {
  if (!text) return null;
  return el("div", { class: state === "error" ? "reason" : "pending-reason" }, text);
}

function vlans(bindings) {
  if (!bindings.length) return "no VLAN bound";
  return bindings.map((b) => b.port + " VLAN " + b.vlan).join(", ");
}

function renderConnections(t) {
  if (!t.connections.length) return [el("p", { class: "muted" }, "No connections.")];
  return t.connections.map((c) => {
    const net = c.network_name || c.network_id;
    const gw = c.gateway_name || c.gateway_id;
    const items = [];
    for (const s of c.switches) {
      items.push(el("li", { "data-switch": s.switch, "data-state": s.state },
        badge(s.state, stateLabel[s.state] || s.state), " ",
        el("strong", {}, s.switch), ": ", vlans(s.bindings),
        s.connected ? null : el("span", { class: "muted" }, " (switch disconnected)"),
        reason(s.state, s.reason)));
    }
    for (const h of c.hosts) {
      items.push(el("li", { "data-host": h.host, "data-state": h.state },
        badge(h.state, stateLabel[h.state] || h.state), " host ", el("strong", {}, h.host),
        reason(h.state, h.reason)));
    }
    return el("div", { class: "card " + c.state, "data-connection": c.id, "data-state": c.state },
      el("h3", {}, net + " ↔ " + gw, badge(c.state, stateLabel[c.state] || c.state)),
      reason(c.state, c.reason),
      items.length ? el("ul", {}, items) : el("p", { class: "muted" }, "No switch or host concerned."),
      el("div", { class: "muted mono" }, c.id));
  });
}

function renderSwitches(t) {
  if (!t.switches.length) return [el("p", { class: "muted" }, "No switch has reported yet.")];
  return t.switches.map((s) => {
    const up = s.connected;
    const state = !up ? "down" : s.error ? "error" : "up";
    return el("div", { class: "card " + state, "data-switch": s.name, "data-connected": String(up) },
      el("h3", {}, s.name, badge(up ? "up" : "down", up ? "connected" : "disconnected"),
        s.error && up ? badge("error", "error") : null),
      s.error ? el("div", { class: "reason" }, s.error) : null,
      s.fault_status.length ? el("div", { class: "reason" }, "faults: " + s.fault_status.join(", ")) : null,
      el("div", { class: "muted" }, "last sync " + ago(s.last_sync) + " · revision " + s.applied_revision +
        (s.tunnel_ips.length ? " · tunnel " + s.tunnel_ips.join(", ") : "")),
      s.ports.length
        ? el("ul", {}, s.ports.map((p) => el("li", {}, el("span", { class: "mono" }, p.name),
          p.fault_status.length ? el("span", { class: "reason" }, " faulty: " + p.fault_status.join(", ")) : null)))
        : el("div", { class: "muted" }, "no ports reported"));
  });
}

function renderHosts(t) {
  if (!t.hosts.length) return [el("p", { class: "muted" }, "No hosts.")];
  return t.hosts.map((h) => el("div", { class: "card " + (h.alive ? "up" : "down"), "data-host": h.name, "data-alive": String(h.alive) },
    el("h3", {}, h.name, badge(h.alive ? "up" : "down", h.alive ? "agent running" : "agent not running")),
    h.error ? el("div", { class: "reason" }, h.error) : null,
    el("div", { class: "muted" }, "VTEP " + h.vtep_ip + " · heartbeat " + ago(h.last_heartbeat) + " · last sync " + ago(h.last_sync))));
}

function renderGateways(t) {
  if (!t.gateways.length) return [el("p", { class: "muted" }, "No gateways.")];
  return t.gateways.map((g) => el("div", { class: "card", "data-gateway": g.id },
    el("h3", {}, g.name || g.id),
    el("ul", {}, g.devices.map((d) => el("li", {}, el("strong", {}, d.switch), ": ",
      d.interfaces.map((i) => i.port + (i.vlans.length ? " VLAN " + i.vlans.join(",") : " (connection's VLAN)")).join(", ")))),
    el("div", { class: "muted mono" }, g.id)));
}

function renderNetworks(t) {
  if (!t.networks.length) return [el("p", { class: "muted" }, "No networks.")];
  return t.networks.map((n) => el("div", { class: "card", "data-network": n.id },
    el("h3", {}, n.name || n.id), el("div", { class: "muted" }, "VNI " + n.vni), el("div", { class: "muted mono" }, n.id)));
}

function problems(t) {
  const out = [];
  for (const s of t.switches) {
    if (!s.connected) out.push("Switch " + s.name + " is disconnected" + (s.error ? ": " + s.error : ""));
    else if (s.error) out.push("Switch " + s.name + ": " + s.error);
  }
  for (const c of t.connections) {
    if (c.state !== "error") continue;
    const name = (c.network_name || c.network_id) + " ↔ " + (c.gateway_name || c.gateway_id);
    const why = [c.reason].concat(c.switches.filter((s) => s.state === "error").map((s) => s.switch + ": " + s.reason),
      c.hosts.filter((h) => h.state === "error").map((h) => "host " + h.host + ": " + h.reason)).filter(Boolean);
    out.push("Connection " + name + " is in error" + (why.length ? ": " + why.join("; ") : ""));
  }
  return out;
}

let current = null;

function render(t) {
  current = t;
  $("revision").textContent = "revision " + t.revision;
  const p = problems(t);
  $("problems-section").hidden = p.length === 0;
  $("problems").replaceChildren(...p.map((x) => el("li", {}, x)));
  $("connections").replaceChildren(...renderConnections(t));
  $("switches").replaceChildren(...renderSwitches(t));
  $("hosts").replaceChildren(...renderHosts(t));
  $("gateways").replaceChildren(...renderGateways(t));
  $("networks").replaceChildren(...renderNetworks(t));
}

function live(state, text) {
  const b = $("live");
  b.className = "badge " + (state === "live" ? "up" : state === "down" ? "down" : "pending");
  b.dataset.live = state;
  b.textContent = text;
}

let source = null;

function connect() {
  if (source) source.close();
  source = new EventSource("api/events");
  source.addEventListener("open", () => live("live", "live"));
  source.addEventListener("snapshot", (e) => { live("live", "live"); render(JSON.parse(e.data)); });
  source.addEventListener("failure", (e) => live("down", e.data));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (not a dropped connection, which EventSource retries).
      live("down", "disconnected");
      setTimeout(start, 5000);
    } else {
      live("connecting", "reconnecting…");
    }
  });
}

async function start() {
  let r;
  try {
    r = await fetch("api/topology", { credentials: "same-origin" });
  } catch (err) {
    live("down", "server unreachable");
    setTimeout(start, 5000);
    return;
  }
  if (r.status === 401) {
    live("down", "sign in");
    $("login").hidden = false;
    return;
  }
  if (!r.ok) {
    live("down", "HTTP " + r.status);
    $("connections").replaceChildren(el("p", { class: "reason" }, "The server refused: HTTP " + r.status));
    return;
  }
  $("login").hidden = true;
  render(await r.json());
  connect();
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const tok = $("token").value.trim();
  document.cookie = "l2gw_token=" + encodeURIComponent(tok) + "; path=/ui/; SameSite=Strict";
  start();
});

// "x s ago" stays true between snapshots.
setInterval(() => { if (current) { $("switches").replaceChildren(...renderSwitches(current)); $("hosts").replaceChildren(...renderHosts(current)); } }, 10000);

start();
