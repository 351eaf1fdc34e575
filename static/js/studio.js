// The studio page: live status over ws/streams/ (reconnects with backoff), key reveal, copy, stop.
// Vanilla JS, no build step. The full key is only ever fetched by POST after the password.
(function () {
  "use strict";

  const panel = document.getElementById("live-panel");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const LABELS = { NONE: "Offline", STARTING: "Starting", LIVE: "Live", ENDING: "Ending", ENDED: "Ended",
    ERROR: "Error", CONNECTING: "Connecting", DISCONNECTED: "Disconnected" };
  let current = null; // the session shown
  let socket = null;
  let retries = 0;
  const pending = []; // messages waiting for the socket to reopen (PrismLive.sendWhenOpen)

  function toast(message, kind) {
    const box = document.getElementById("toasts");
    const el = document.createElement("div");
    el.className = "toast " + (kind || "warning");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(() => el.remove(), 8000);
  }

  function badge(el, state) {
    el.dataset.state = state;
    el.textContent = LABELS[state] || state;
  }

  function two(n) { return String(n).padStart(2, "0"); }

  function tickElapsed() {
    const el = document.getElementById("session-elapsed");
    if (!current || !["STARTING", "LIVE"].includes(current.state)) { el.textContent = ""; return; }
    const secs = Math.max(0, Math.floor((Date.now() - Date.parse(current.started_at)) / 1000));
    el.textContent = `${Math.floor(secs / 3600)}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}`;
    const limit = parseInt(panel.dataset.limitMinutes, 10);
    if (limit) el.textContent += ` of ${limit}:00 min`;
  }

  function destRow(dest) {
    const li = document.createElement("li");
    li.className = "dest-row";
    li.dataset.destination = dest.id;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = dest.label;
    const state = document.createElement("span");
    state.className = "badge dest-state";
    badge(state, dest.state);
    const viewers = document.createElement("span");
    viewers.className = "viewers";
    viewers.textContent = dest.viewer_count == null ? "" : `${dest.viewer_count} watching`;
    li.append(name, state, viewers);
    if (dest.error_message && dest.state !== "DISCONNECTED") {
      const err = document.createElement("span");
      err.className = "error";
      err.textContent = dest.error_message;
      li.append(err);
    }
    return li;
  }

  function render(msg) {
    const previous = current;
    current = msg.session;
    const state = current ? current.state : "NONE";
    badge(document.getElementById("session-state"), state);
    const message = document.getElementById("session-message");
    const active = current && ["STARTING", "LIVE"].includes(current.state);
    if (active) document.getElementById("publish-refused").hidden = true;
    if (!current) message.textContent = "Not live. Publish to your ingest (below) to start.";
    else if (active) message.textContent = current.title || "";
    else message.textContent = current.end_reason ? `Last stream: ${current.end_reason}` : "Last stream ended.";
    document.getElementById("stop-form").hidden = !active;
    document.getElementById("stop-session").value = active ? current.id : "";
    const rows = document.getElementById("dest-rows");
    rows.replaceChildren(...msg.destinations.map(destRow));
    for (const dest of msg.destinations) {
      const before = previous && previous.destinations && previous.destinations.find((d) => d.id === dest.id);
      if (dest.state === "ERROR" && (!before || before.state !== "ERROR")) {
        toast(`${dest.label}: ${dest.error_message || "stopped with an error."}`, "error");
      }
    }
    if (current) current.destinations = msg.destinations;
    if (current && current.state === "ERROR" && (!previous || previous.state !== "ERROR")) {
      toast(current.end_reason || "The stream stopped with an error.", "error");
    }
    tickElapsed();
  }

  // A refused publish (plan, old key, server error): why, and what to do. Cleared when a stream starts.
  function showRefusal(msg) {
    document.getElementById("publish-refused-message").textContent = msg.message || "";
    const link = document.getElementById("publish-refused-upgrade");
    link.hidden = !msg.upgrade_url;
    link.href = msg.upgrade_url || "";
    document.getElementById("publish-refused").hidden = false;
  }

  // The browser studio (static/js/studio/*.js) shares this socket: it sends through
  // PrismLive.send and hears every message, and the session shown, through PrismLive.listeners.
  window.PrismLive = {
    listeners: [],
    send(message) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    // Send now, or as soon as the socket is (re)connected.
    sendWhenOpen(message) {
      if (!this.send(message)) pending.push(message);
    },
    session() { return current; },
  };

  function connState(text) { document.getElementById("ws-state").textContent = text; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + panel.dataset.wsPath);
    socket.addEventListener("open", () => {
      retries = 0;
      connState("Live updates on");
      pending.splice(0).forEach((message) => socket.send(JSON.stringify(message)));
    });
    socket.addEventListener("message", (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "status") render(msg);
      else if (msg.type === "refused") showRefusal(msg);
      else if (msg.type === "warning") toast(msg.message, "warning");
      else if (msg.type === "error") toast(msg.message, "error");
      window.PrismLive.listeners.forEach((listener) => listener(msg));
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === 4401) { connState("Log in again for live updates."); return; }
      // Exponential backoff with jitter, capped at 30 s.
      const delay = Math.min(30000, 1000 * 2 ** retries) * (0.75 + Math.random() / 2);
      retries += 1;
      connState(`Reconnecting in ${Math.round(delay / 1000)} s…`);
      setTimeout(connect, delay);
    });
  }

  // Stop: over the socket when it is open, else the form's ordinary POST (+ CSRF).
  document.getElementById("stop-form").addEventListener("submit", (event) => {
    const id = parseInt(document.getElementById("stop-session").value, 10);
    if (socket && socket.readyState === WebSocket.OPEN && id) {
      event.preventDefault();
      socket.send(JSON.stringify({ type: "stop", session: id }));
      document.getElementById("stop-button").disabled = true;
      setTimeout(() => { document.getElementById("stop-button").disabled = false; }, 3000);
    }
  });

  // Show key: POST the password (with CSRF); the key lives in the page only from then on.
  document.getElementById("reveal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { toast((body.error && body.error.message) || "Could not show the key.", "error"); return; }
    document.getElementById("ingest-key").textContent = body.key;
    document.getElementById("copy-key").disabled = false;
    form.reset();
  });

  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.querySelector(button.dataset.copy).textContent.trim();
      try { await navigator.clipboard.writeText(text); toast("Copied.", "info"); }
      catch (e) { toast("Copy failed: select the text and copy it by hand.", "error"); }
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => { if (!window.confirm(form.dataset.confirm)) event.preventDefault(); });
  });

  setInterval(tickElapsed, 1000);
  setInterval(() => { if (socket && socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}'); }, 25000);
  connect();
})();
