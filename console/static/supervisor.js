/* Kesher console: the supervisor's live view (console/templates/console/supervisor.html, console/supervisor.py).
 *
 * The server renders every word (the page, and the labels in GET /console/api/supervisor); this
 * script lays the overview out and keeps it live: the console's websocket (/console/ws, which every
 * replica reads whole) says when something changed, and the overview is read again then and every
 * few seconds (waits grow by themselves; a manager, who has no desk, gets no websocket and relies on
 * this alone). A wait past the alert threshold shows a banner and prefixes the page's title.
 * Reassign and join are POSTs with the session's CSRF token; a joined chat's messages arrive on the
 * websocket (or by polling) and the supervisor writes into it as the team.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const boot = JSON.parse($("supervisor-boot").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const baseTitle = document.title;
  const POLL_MS = 3000;
  let socket = null;
  let retries = 0;
  let live = true;
  let loadTimer = 0;
  let joined = null; // {cid, last}
  const seen = new Set();
  const choice = {}; // cid → the agent picked in its "give to" list, kept across re-renders

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([key, value]) => {
      if (key === "dataset") Object.assign(node.dataset, value);
      else node[key] = value;
    });
    (children || []).forEach((child) => node.append(child));
    return node;
  }

  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch("/console/api/supervisor" + path, options);
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("logged out");
    }
    let data = {};
    try { data = await response.json(); } catch (_) { data = {}; }
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  function status(text) {
    $("sv-status").textContent = text;
  }

  // -- actions on a chat: give it to another agent, or join it -------------------------------------
  function actions(cid, owner) {
    const node = $("sv-actions").content.firstElementChild.cloneNode(true);
    node.dataset.cid = cid;
    const select = node.querySelector(".sv-to");
    boot.agents.filter((a) => a.id !== owner).forEach((a) => select.append(el("option", { value: a.id, textContent: a.name })));
    if (choice[cid] && select.querySelector(`option[value="${CSS.escape(choice[cid])}"]`)) select.value = choice[cid];
    select.addEventListener("change", () => { choice[cid] = select.value; });
    node.querySelector(".sv-reassign").addEventListener("click", () => {
      api("POST", `/chats/${encodeURIComponent(cid)}/reassign`, { to_agent: select.value })
        .then((data) => { status(data.text); scheduleLoad(0); })
        .catch((e) => status(e.message));
    });
    node.querySelector(".sv-join").addEventListener("click", () => join(cid));
    return node;
  }

  // -- the overview --------------------------------------------------------------------------------
  function render(view) {
    const agents = $("sv-agents-body");
    agents.replaceChildren();
    view.agents.forEach((a) => {
      const chats = el("ul", { className: "sv-chats" }, a.chats.map((c) => el("li", { dataset: { cid: c.cid } }, [
        el("bdi", { textContent: c.customer_name || c.reference }), " ", actions(c.cid, a.id),
      ])));
      agents.append(el("tr", { dataset: { agent: a.id } }, [
        el("td", {}, [el("bdi", { textContent: a.name })]),
        el("td", {}, [el("span", { className: "sv-presence", dataset: { presence: a.presence }, textContent: a.presence_label })]),
        el("td", { className: "sv-seen", textContent: a.seen_label }),
        el("td", { className: "sv-load", textContent: a.load_label }),
        el("td", {}, [chats]),
      ]));
    });
    const queue = $("sv-queue-body");
    queue.replaceChildren();
    view.queue.forEach((row) => {
      queue.append(el("tr", { className: row.alert ? "alert" : "", dataset: { cid: row.cid } }, [
        el("td", { className: "sv-wait", textContent: row.wait_label }),
        el("td", {}, [el("bdi", { textContent: row.customer_name || row.reference })]),
        el("td", { textContent: row.language_label }),
        el("td", { textContent: row.channel_label }),
        el("td", {}, [actions(row.cid, "")]),
      ]));
    });
    $("sv-queue-count").textContent = String(view.queue.length);
    $("sv-queue-empty").hidden = view.queue.length > 0;
    const alert = $("sv-alert");
    alert.textContent = view.alert_label;
    alert.hidden = !view.alert_label;
    document.title = view.title_alert ? `${view.title_alert} · ${baseTitle}` : baseTitle;
  }

  function load() {
    return api("GET", "").then(render).catch((e) => status(e.message));
  }

  function scheduleLoad(delay) {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(load, delay === undefined ? 150 : delay);
  }

  // -- a joined chat -------------------------------------------------------------------------------
  function addEvent(event) {
    const key = event.stream_id || event.message_id;
    if (seen.has(key)) return;
    seen.add(key);
    if (joined && event.stream_id) joined.last = event.stream_id;
    const who = event.author === "customer" ? "👤" : (event.author_name || event.author);
    $("sv-events").append(el("p", { className: "sv-event", dataset: { kind: event.kind } }, [
      el("bdi", { className: "who", textContent: who }), el("bdi", { textContent: event.text }),
    ]));
    $("sv-events").scrollTop = $("sv-events").scrollHeight;
  }

  function join(cid) {
    api("POST", `/chats/${encodeURIComponent(cid)}/join`).then((data) => {
      joined = { cid: data.cid, last: "" };
      seen.clear();
      $("sv-events").replaceChildren();
      $("sv-chat-title").textContent = data.title;
      $("sv-chat").hidden = false;
      data.events.forEach(addEvent);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "watch", cid: data.cid }));
      $("sv-text").focus();
    }).catch((e) => status(e.message));
  }

  function pollEvents() {
    if (!joined || live) return;
    const after = joined.last ? `?after=${encodeURIComponent(joined.last)}` : "";
    api("GET", `/chats/${encodeURIComponent(joined.cid)}/events${after}`)
      .then((data) => data.events.forEach(addEvent))
      .catch(() => {});
  }

  $("sv-composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("sv-text").value.trim();
    if (!joined || !text) return;
    api("POST", `/chats/${encodeURIComponent(joined.cid)}/messages`, { text })
      .then((data) => { $("sv-text").value = ""; addEvent(data.event); })
      .catch((err) => status(err.message));
  });

  // -- live ------------------------------------------------------------------------------------
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/console/ws");
    socket.addEventListener("open", () => {
      retries = 0;
      live = true;
      $("sv-live").hidden = false;
      if (joined) socket.send(JSON.stringify({ type: "watch", cid: joined.cid }));
    });
    socket.addEventListener("message", (e) => {
      let message;
      try { message = JSON.parse(e.data); } catch (_) { return; }
      if (message.type === "queue" || message.type === "state" || message.type === "presence") scheduleLoad();
      else if (message.type === "event" && joined && message.cid === joined.cid) addEvent(message.event);
    });
    socket.addEventListener("close", (e) => {
      socket = null;
      live = false;
      $("sv-live").hidden = true;
      if (e.code === 4401) { window.location.assign("/console/login"); return; }
      if (e.code === 4403 || boot.role === "manager") return; // no desk, no feed: polling keeps the view
      retries += 1;
      setTimeout(connect, Math.min(10000, 500 * 2 ** retries));
    });
  }

  load();
  setInterval(() => { load(); pollEvents(); }, POLL_MS);
  if (boot.role === "manager") live = false;
  else connect();
})();
