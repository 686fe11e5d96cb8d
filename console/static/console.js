/* Kesher agent console: the desk page.
 *
 * Safety rule: text that comes from customers (or anyone) is only ever put in
 * the page with textContent / attribute setters, never innerHTML.
 * Every word the page shows comes from the text catalog (data/texts/console.yml):
 * the boot data holds its texts in the agent's language, and t(key, values) fills
 * them in, plural forms included (the same message format as core/texts.py).
 * Live updates come over /console/ws; after a reconnect the queue, the chats and
 * the open chat's events after the last stream id are fetched again, and each
 * event is shown once (deduplicated by stream id).
 * A chat that starts waiting or is assigned to the agent plays a short sound, counts in the
 * title's badge and, once the agent enabled them, raises a desktop notification; an
 * assignment also shows a toast. Other desk modules reach the page through window.kesherDesk.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("boot").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const me = boot.agent;
  const HEBREW = /[\u0590-\u05FF]/;
  const $ = (id) => document.getElementById(id);

  // -- texts -------------------------------------------------------------------------
  // kesherMessageFormat (edge/static/message-format.js, loaded before this file) fills the
  // catalog's {arguments} and plural forms.

  /** The catalog's text console_<key> in the agent's language, its {arguments} filled in. */
  function t(key, values) {
    if (!Object.prototype.hasOwnProperty.call(boot.texts, key)) return key;
    return kesherMessageFormat.format(boot.texts[key], values, boot.lang);
  }

  /** The catalog's name of a code (reason_<code>, resolution_<code>), or the code with spaces. */
  function label(prefix, code) {
    const key = prefix + code;
    return code && Object.prototype.hasOwnProperty.call(boot.texts, key) ? t(key) : String(code || "").replace(/_/g, " ");
  }

  // Codes the desk gets from the server, named in the agent's language: a channel (web, kesher_rest: the
  // dashboard's names), a routing topic, a team, an order's status (boot.statuses: the customers' words for it).
  const channelName = (code) => label("dash_channel_", code);
  const topicName = (code) => label("topic_", code);
  const teamName = (code) => label("team_", code);
  const statusName = (code) => (code && Object.prototype.hasOwnProperty.call(boot.statuses || {}, code)
    ? boot.statuses[code] : String(code || ""));

  const state = {
    queue: [],
    queueAt: Date.now(),
    queueSeen: null, // Set of the queue's cids already announced (null until the first queue arrives)
    newInQueue: 0, // arrivals the agent has not looked at yet (reset when the page is looked at)
    chats: [],
    taking: new Set(), // chats this page is taking itself (no "assigned to you" toast for those)
    current: null, // {cid, conv, lastId, shown:Set, messageIds:Set}
    lastTyping: 0,
    suggestion: 0,
  };

  // -- small DOM helpers -----------------------------------------------------------
  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "text") node.textContent = String(value);
        else if (key === "className") node.className = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function dirFor(text) {
    return HEBREW.test(text || "") ? "rtl" : "auto";
  }

  function clock(at) {
    if (!at) return "";
    const d = new Date(Number(at) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }

  function compareIds(a, b) {
    const [am, as] = a.split("-").map(BigInt);
    const [bm, bs] = b.split("-").map(BigInt);
    if (am !== bm) return am < bm ? -1 : 1;
    if (as !== bs) return as < bs ? -1 : 1;
    return 0;
  }

  let toastTimer = 0;
  function toast(message, kind) {
    const node = $("toast");
    node.textContent = message;
    node.dataset.kind = kind || "info";
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
  }

  // -- HTTP -------------------------------------------------------------------------
  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch("/console/api" + path, options);
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("logged out");
    }
    if (response.status === 204) return {};
    let data = {};
    try { data = await response.json(); } catch (_) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error || t("request_failed", { status: response.status }));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function report(error) {
    if (error && error.message !== "logged out") toast(error.message, "error");
  }

  // -- presence ----------------------------------------------------------------------
  function showPresence(status) {
    const group = $("presence");
    group.dataset.status = status;
    for (const button of group.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === status));
    }
  }

  $("presence").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-status]");
    if (!button) return;
    api("POST", "/presence", { status: button.dataset.status })
      .then((data) => showPresence(data.presence))
      .catch(report);
  });
  for (const button of $("presence").querySelectorAll("button")) button.disabled = false;

  // -- queue -------------------------------------------------------------------------
  function renderQueue(rows) {
    state.queue = rows;
    state.queueAt = Date.now();
    const body = $("queue-body");
    clear(body);
    for (const row of rows) {
      const who = row.customer_name || row.reference || row.cid;
      const tr = el("tr", { dataset: { cid: row.cid }, className: row.target_agent === me.id ? "reserved" : "" }, [
        el("td", { className: "wait", dataset: { base: String(row.waiting_seconds) }, text: duration(row.waiting_seconds) }),
        el("td", {}, [
          el("bdi", { className: "who", text: who }),
          el("small", { className: "ref", dir: "ltr", text: row.reference && row.reference !== who ? row.reference : "" }),
          el("small", { className: "via" }, [
            el("span", { className: "lang lang-" + row.language, title: t("queue_language"), text: (row.language || "").toUpperCase() }),
            " ",
            el("span", { title: t("queue_channel"), text: channelName(row.channel) }),
          ]),
        ]),
        el("td", {}, [
          el("span", { text: label("reason_", row.reason) }),
          el("small", { className: "prio" }, [
            el("span", { title: t("queue_topic"), text: topicName(row.topic) + (row.team ? ` → ${teamName(row.team)}` : "") + (row.target_agent ? ` → ${row.target_agent}` : "") }),
            " · ",
            el("span", { title: t("queue_priority"), text: `P${row.priority}` }),
          ]),
        ]),
        el("td", {}, [el("button", { type: "button", className: "take", text: t("take"), dataset: { cid: row.cid } })]),
      ]);
      body.append(tr);
    }
    $("queue-count").textContent = String(rows.length);
    $("queue-empty").hidden = rows.length > 0;
    $("queue").hidden = rows.length === 0;
    announceQueue(rows);
  }

  /** A sound, the badge and a desktop notification for each chat that just joined the queue. */
  function announceQueue(rows) {
    const first = state.queueSeen === null;
    const seen = state.queueSeen || new Set();
    const fresh = rows.filter((row) => !seen.has(row.cid));
    state.queueSeen = new Set(rows.map((row) => row.cid));
    if (first || !fresh.length) return;
    if (!lookedAt()) state.newInQueue += fresh.length;
    updateBadge();
    const row = fresh[0];
    alertAgent(t("notify_new_chat", { who: row.customer_name || row.reference || row.cid }), row.cid);
  }

  function tick() {
    const elapsed = (Date.now() - state.queueAt) / 1000;
    for (const cell of document.querySelectorAll("#queue-body td.wait")) {
      cell.textContent = duration(Number(cell.dataset.base) + elapsed);
    }
    const now = Date.now() / 1000;
    for (const timer of document.querySelectorAll("#my-chats .timer[data-since]")) {
      timer.textContent = duration(now - Number(timer.dataset.since));
    }
  }
  setInterval(tick, 1000);

  $("queue-body").addEventListener("click", (e) => {
    const button = e.target.closest("button.take");
    if (button) {
      take(button.dataset.cid);
      return;
    }
    const row = e.target.closest("tr[data-cid]");
    if (row) openChat(row.dataset.cid);
  });

  async function loadQueue() {
    const data = await api("GET", "/queue");
    renderQueue(data.queue);
  }

  async function take(cid) {
    state.taking.add(cid);
    try {
      await api("POST", `/chats/${encodeURIComponent(cid)}/take`);
      await Promise.all([loadChats(), loadQueue()]);
      await openChat(cid);
    } catch (error) {
      state.taking.delete(cid);
      report(error);
      loadQueue().catch(report);
    }
  }

  // -- my chats ------------------------------------------------------------------------
  function renderChats(chats) {
    state.chats = chats;
    const list = $("my-chats");
    const unread = new Set([...list.querySelectorAll("li.unread")].map((li) => li.dataset.cid));
    clear(list);
    for (const chat of chats) {
      const li = el("li", {
        dataset: { cid: chat.cid },
        className: [unread.has(chat.cid) ? "unread" : "", state.current && state.current.cid === chat.cid ? "open" : ""].join(" ").trim(),
      }, [
        el("button", { type: "button" }, [
          el("bdi", { className: "who", text: chat.customer_name || chat.reference || chat.cid }),
          el("span", { className: "timer", dir: "ltr", dataset: { since: String(chat.assigned_at || chat.queued_at || 0) },
            text: duration(Date.now() / 1000 - Number(chat.assigned_at || chat.queued_at || Date.now() / 1000)) }),
          el("span", { className: "preview", dir: "auto", text: preview(chat.last) }),
          el("small", {}, [
            el("span", { className: "lang lang-" + chat.language, text: (chat.language || "").toUpperCase() }),
            ` ${channelName(chat.channel)} · ${label("reason_", chat.reason)}`,
          ]),
        ]),
      ]);
      list.append(li);
    }
    $("chats-count").textContent = String(chats.length);
    $("chats-empty").hidden = chats.length > 0;
    updateBadge();
  }

  /** The "My chats" line under a name: the last message, the agent's own marked as theirs. */
  function preview(last) {
    if (!last || !last.text) return t("chats_no_messages");
    return last.kind === "agent" && last.author === me.id ? t("chats_you", { message: last.text }) : last.text;
  }

  function setPreview(cid, event) {
    const chat = state.chats.find((c) => c.cid === cid);
    if (!chat || !["customer", "agent"].includes(event.kind) || !event.text) return;
    chat.last = { kind: event.kind, author: event.author, text: event.text.slice(0, 120), at: event.at };
    const li = $("my-chats").querySelector(`li[data-cid="${CSS.escape(cid)}"] .preview`);
    if (li) li.textContent = preview(chat.last);
  }

  $("my-chats").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-cid]");
    if (li) openChat(li.dataset.cid);
  });

  async function loadChats() {
    const data = await api("GET", "/chats");
    renderChats(data.chats);
  }

  // -- the open chat --------------------------------------------------------------------
  function agentName(id) {
    if (!id) return "";
    if (id === me.id) return me.name;
    const colleague = boot.colleagues.find((c) => c.id === id);
    return colleague ? colleague.name : id;
  }

  function describeState(event) {
    const data = event.data || {};
    const extra = data.extra || "";
    switch (event.text) {
      case "queued":
        return data.from === "with_agent" ? t("state_transferred_back") : t("state_queued");
      case "with_agent":
        return t("state_taken", { agent: agentName(extra) || t("an_agent") });
      case "closed":
        return extra ? t("state_closed_as", { resolution: label("resolution_", String(extra)) }) : t("state_closed");
      case "bot":
        return t("state_bot");
      default:
        return t("state_other", { state: event.text });
    }
  }

  function eventNode(event) {
    const at = clock(event.at);
    if (event.kind === "state") {
      return el("div", { className: "state-line", dir: boot.dir, lang: boot.lang, dataset: { id: event.stream_id } }, [
        el("span", { text: `${describeState(event)}${at ? " · " + at : ""}` }),
      ]);
    }
    let who;
    if (event.kind === "customer") who = (state.current && state.current.conv && state.current.conv.customer_name) || t("label_customer");
    else if (event.kind === "agent") who = event.author_name || event.author;
    else if (event.kind === "note") who = t("label_note", { author: event.author_name || event.author });
    else who = t("label_system");
    const buttons = (event.data && event.data.buttons) || [];
    const media = (event.data && event.data.media) || [];
    const channel = event.kind === "customer" && event.data && event.data.channel ? ` · ${channelName(event.data.channel)}` : "";
    const own = (event.kind === "agent" || event.kind === "note") && event.author === me.id;
    return el("div", { className: `msg msg-${event.kind}${own ? " own" : ""}`, dataset: { id: event.stream_id, messageId: event.message_id } }, [
      el("div", { className: "msg-meta", dir: "auto", text: `${who}${channel}${at ? " · " + at : ""}` }),
      event.text ? el("div", { className: "bubble", dir: dirFor(event.text), lang: HEBREW.test(event.text || "") ? "he" : null }, kesherMarkup.nodes(event.text)) : null,
      ...media.map(mediaNode),
      buttons.length ? el("div", { className: "msg-buttons", text: buttons.map((b) => `[${b[0]}]`).join(" ") }) : null,
    ]);
  }

  // An attachment the customer sent (WhatsApp media URL; Telegram files are named only).
  function mediaNode(item) {
    const kind = String(item.content_type || "file").split("/")[0];
    const name = t("attachment", {
      kind: { image: t("media_image"), audio: t("media_audio"), video: t("media_video") }[kind] || t("media_file"),
      type: item.content_type || t("media_unknown_type"),
    });
    if (item.upload && /^[\w-]{1,64}$/.test(String(item.upload))) {
      // An image from the web widget, served by the console to agents only (console/uploads.py).
      const src = `/console/api/uploads/${encodeURIComponent(item.upload)}`;
      return el("a", { className: "attachment attachment-image", href: src, target: "_blank", rel: "noopener" }, [
        el("img", { src, alt: name, loading: "lazy" }),
      ]);
    }
    if (/^https?:\/\//i.test(item.url || "")) {
      return el("a", { className: "attachment", href: item.url, target: "_blank", rel: "noopener noreferrer", text: name });
    }
    return el("div", { className: "attachment", text: name });
  }

  function addEvent(event) {
    const cur = state.current;
    if (!cur || !event.stream_id || cur.shown.has(event.stream_id)) return;
    if (event.message_id && cur.messageIds.has(event.message_id)) return;
    cur.shown.add(event.stream_id);
    if (event.message_id) cur.messageIds.add(event.message_id);
    const container = $("events");
    const node = eventNode(event);
    let before = null;
    for (const child of container.children) {
      if (compareIds(child.dataset.id, event.stream_id) > 0) { before = child; break; }
    }
    container.insertBefore(node, before);
    if (!cur.lastId || compareIds(event.stream_id, cur.lastId) > 0) cur.lastId = event.stream_id;
    if (event.author === me.id) cur.pinned = true;
    keepNewestInView();
    setPreview(cur.cid, event);
    if (event.kind === "customer") $("typing").hidden = true;
  }

  // The transcript stays scrolled to the newest message while the agent has not scrolled up;
  // content added above it (the bot's transcript arriving late) does not move the view either.
  function keepNewestInView() {
    const cur = state.current;
    const log = $("log");
    if (cur && cur.pinned) log.scrollTop = log.scrollHeight;
  }

  $("log").addEventListener("scroll", () => {
    const log = $("log");
    if (state.current) state.current.pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }, { passive: true });

  function renderConversation(conv) {
    const cur = state.current;
    cur.conv = conv;
    $("chat-title").textContent = conv.customer_name || conv.reference || conv.cid;
    const bits = [conv.reference, (conv.language || "").toUpperCase(), conv.channel && channelName(conv.channel),
      label("reason_", conv.reason), conv.topic && topicName(conv.topic)].filter(Boolean);
    $("chat-meta").textContent = bits.join(" · ");
    const stateText = {
      queued: () => t("chat_state_queued"),
      with_agent: () => (conv.mine ? t("chat_state_mine") : t("chat_state_with", { agent: conv.agent_name || conv.agent_id })),
      closed: () => (conv.resolution
        ? t("chat_state_closed_as", { resolution: label("resolution_", conv.resolution) }) : t("chat_state_closed")),
      bot: () => t("chat_state_bot"),
    }[conv.state];
    $("chat-state").textContent = stateText ? stateText() : conv.state;
    $("chat-state").dataset.state = conv.state;
    $("chat-take").hidden = conv.state !== "queued";
    $("composer-text").disabled = false;
    $("send-button").disabled = !conv.mine;
    $("note-button").disabled = conv.state === "bot";
    for (const form of [$("transfer-form"), $("close-form")]) {
      for (const control of form.elements) control.disabled = !conv.mine;
    }
    $("composer").classList.toggle("readonly", !conv.mine);
    for (const li of $("my-chats").children) li.classList.toggle("open", li.dataset.cid === conv.cid);
  }

  function renderTranscript(data) {
    const box = $("transcript");
    clear(box);
    const cur = state.current;
    if (!data.available) {
      const note = data.reason ? t("transcript_unavailable_because", { reason: data.reason }) : t("transcript_unavailable");
      box.append(el("p", { className: "transcript-note", dir: boot.dir, lang: boot.lang, text: note }));
    } else if (!data.turns.length) {
      box.append(el("p", { className: "transcript-note", dir: boot.dir, lang: boot.lang, text: t("transcript_empty") }));
    }
    for (const turn of data.turns || []) {
      box.append(el("div", { className: `msg msg-bot-part msg-${turn.role}` }, [
        el("div", { className: "msg-meta", text: `${turn.role === "bot" ? t("label_bot") : t("label_customer")}${turn.at ? " · " + clock(turn.at) : ""}` }),
        el("div", { className: "bubble", dir: dirFor(turn.text) }, kesherMarkup.nodes(turn.text)),
      ]));
    }
    const reason = cur && cur.conv && cur.conv.reason ? label("reason_", cur.conv.reason) : "";
    $("handoff-divider").textContent = reason ? t("divider_reason", { reason }) : t("divider");
    keepNewestInView();
  }

  function renderPanel(panel) {
    const body = $("panel-body");
    clear(body);
    const identity = el("dl", { className: "facts" }, []);
    // An e-mail address, a phone or a reference (dir=ltr) is one unbreakable line, cut with "…" and whole in its title.
    const fact = (name, value, dir) => {
      if (!value) return;
      const whole = dir === "ltr" ? { className: "unbroken", title: value } : {};
      identity.append(el("dt", { text: name }), el("dd", { dir: dir || "auto", text: value, ...whole }));
    };
    fact(t("fact_name"), panel.name);
    if (panel.email) fact(t("fact_email"), panel.email, "ltr");
    else if (panel.email_unverified) fact(t("fact_email"), t("email_not_verified", { email: panel.email_unverified }));
    fact(t("fact_phone"), panel.phone, "ltr");
    fact(t("fact_verified"), panel.verified ? t("verified_order", { order: panel.verified_order }) : t("not_verified"));
    fact(t("fact_reference"), panel.reference, "ltr");
    fact(t("fact_channel"), panel.channel && channelName(panel.channel));
    fact(t("fact_language"), panel.language === "he" ? t("language_he") : t("language_en"));
    body.append(identity);

    if ((panel.asked || []).length) {
      body.append(el("h3", { text: t("panel_asked") }),
        el("ul", { className: "plain" }, panel.asked.map((q) => el("li", { dir: dirFor(q), text: q }))));
    }
    if ((panel.found || []).length) {
      body.append(el("h3", { text: t("panel_found") }),
        el("ul", { className: "plain" }, panel.found.map((f) => el("li", { dir: dirFor(f), text: f }))));
    }
    body.append(el("h3", { text: t("panel_orders") }));
    if (!panel.orders_available) body.append(el("p", { className: "empty", text: t("orders_unavailable") }));
    else if (!(panel.orders || []).length) body.append(el("p", { className: "empty", text: t("orders_none") }));
    else {
      body.append(el("table", { className: "orders" }, [
        el("thead", {}, [el("tr", {}, [t("order_id"), t("order_status"), t("order_placed"), t("order_total")].map((h) => el("th", { text: h })))]),
        el("tbody", {}, panel.orders.map((o) => el("tr", {}, [
          el("td", { text: o.order_id, title: (o.items || []).join(", ") }),
          el("td", {}, [el("span", { className: `status status-${o.status}`, text: statusName(o.status) })]),
          el("td", { text: o.created_at }),
          el("td", { text: o.total }),
        ]))),
      ]));
    }
    body.append(el("h3", { text: t("panel_history") }));
    if (!(panel.history || []).length) body.append(el("p", { className: "empty", text: t("history_none") }));
    else {
      body.append(el("ul", { className: "history" }, panel.history.map((h) => el("li", {}, [
        el("strong", { text: `${h.reference || h.cid} · ${label("resolution_", h.resolution)}` }),
        el("small", { text: ` ${h.agent || ""}${h.closed_at ? " · " + new Date(h.closed_at * 1000).toLocaleDateString() : ""}` }),
        h.summary ? el("p", { dir: dirFor(h.summary), text: h.summary }) : null,
      ]))));
    }
  }

  async function fetchEvents() {
    const cur = state.current;
    if (!cur) return;
    const cid = cur.cid;
    const after = cur.lastId ? `?after=${encodeURIComponent(cur.lastId)}` : "";
    const data = await api("GET", `/chats/${encodeURIComponent(cid)}/events${after}`);
    if (state.current !== cur) return;
    for (const event of data.events) addEvent(event);
  }

  async function refreshConversation() {
    const cur = state.current;
    if (!cur) return;
    const data = await api("GET", `/chats/${encodeURIComponent(cur.cid)}`);
    if (state.current === cur) renderConversation(data.conversation);
  }

  function watch(cid) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "watch", cid }));
  }

  async function openChat(cid) {
    if (state.current && state.current.cid === cid) {
      await Promise.all([refreshConversation(), fetchEvents()]).catch(report);
      return;
    }
    const cur = { cid, conv: null, lastId: "", shown: new Set(), messageIds: new Set(), pinned: true };
    state.current = cur;
    $("chat-placeholder").hidden = true;
    $("chat-view").hidden = false;
    clear($("events"));
    clear($("transcript"));
    $("typing").hidden = true;
    $("composer-text").value = "";
    updateCount();
    hideSuggestions();
    const li = $("my-chats").querySelector(`li[data-cid="${CSS.escape(cid)}"]`);
    if (li) li.classList.remove("unread");
    updateBadge();
    history.replaceState(null, "", "#" + encodeURIComponent(cid));
    watch(cid);
    try {
      const data = await api("GET", `/chats/${encodeURIComponent(cid)}`);
      if (state.current !== cur) return;
      renderConversation(data.conversation);
      await fetchEvents();
      api("GET", `/chats/${encodeURIComponent(cid)}/transcript`)
        .then((transcript) => { if (state.current === cur) renderTranscript(transcript); })
        .catch((error) => { if (state.current === cur) renderTranscript({ available: false, turns: [], reason: error.message }); });
      api("GET", `/chats/${encodeURIComponent(cid)}/panel`)
        .then((p) => { if (state.current === cur) renderPanel(p); })
        .catch(report);
      keepNewestInView();
      if (cur.conv && cur.conv.mine) $("composer-text").focus();
    } catch (error) {
      report(error);
    }
  }

  $("chat-take").addEventListener("click", () => {
    if (state.current) take(state.current.cid);
  });

  // -- composer ----------------------------------------------------------------------------
  const text = $("composer-text");

  // Also the composer's direction: its text's, or the page's while it is empty (so the hint reads right).
  function updateCount() {
    $("composer-count").textContent = `${text.value.length} / ${boot.max_chars}`;
    text.setAttribute("dir", text.value ? dirFor(text.value) : boot.dir);
  }

  /** A canned reply in the conversation's language, its {agent} and {reference} filled in. */
  function cannedText(reply) {
    const cur = state.current;
    const language = cur && cur.conv && cur.conv.language === "he" ? "he" : "en";
    const reference = (cur && cur.conv && cur.conv.reference) || "";
    return reply[language].replaceAll("{agent}", me.first_name).replaceAll("{reference}", reference);
  }

  function fill(reply) {
    text.value = cannedText(reply);
    hideSuggestions();
    updateCount();
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  }

  function matches() {
    const m = /^\/([\w-]*)$/.exec(text.value);
    if (!m) return [];
    const prefix = m[1].toLowerCase();
    return boot.canned.filter((c) => c.shortcut.startsWith(prefix)).slice(0, 8);
  }

  function hideSuggestions() {
    const list = $("suggestions");
    list.hidden = true;
    clear(list);
  }

  function showSuggestions() {
    const found = matches();
    const list = $("suggestions");
    clear(list);
    if (!found.length) { list.hidden = true; return; }
    state.suggestion = Math.min(state.suggestion, found.length - 1);
    found.forEach((reply, index) => {
      list.append(el("li", {
        role: "option",
        "aria-selected": String(index === state.suggestion),
        dataset: { shortcut: reply.shortcut },
      }, [
        el("code", { text: "/" + reply.shortcut }),
        el("span", { className: "title", text: reply.title }),
        el("span", { className: "preview", dir: "auto", text: cannedText(reply) }),
      ]));
    });
    list.hidden = false;
  }

  $("suggestions").addEventListener("mousedown", (e) => {
    const li = e.target.closest("li[data-shortcut]");
    if (!li) return;
    e.preventDefault();
    const reply = boot.canned.find((c) => c.shortcut === li.dataset.shortcut);
    if (reply) fill(reply);
  });

  text.addEventListener("input", () => {
    updateCount();
    const exact = /^\/([\w-]+)\s$/.exec(text.value);
    if (exact) {
      const reply = boot.canned.find((c) => c.shortcut === exact[1].toLowerCase());
      if (reply) { fill(reply); return; }
    }
    state.suggestion = 0;
    showSuggestions();
    const cur = state.current;
    if (cur && cur.conv && cur.conv.mine && text.value && Date.now() - state.lastTyping > 3000) {
      state.lastTyping = Date.now();
      api("POST", `/chats/${encodeURIComponent(cur.cid)}/typing`).catch(() => {});
    }
  });

  text.addEventListener("keydown", (e) => {
    const list = $("suggestions");
    if (!list.hidden) {
      const found = matches();
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        state.suggestion = (state.suggestion + step + found.length) % found.length;
        showSuggestions();
        return;
      }
      if ((e.key === "Tab" || e.key === "Enter") && found.length) {
        e.preventDefault();
        fill(found[state.suggestion] || found[0]);
        return;
      }
      if (e.key === "Escape") { hideSuggestions(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit(false);
    }
  });

  async function submit(asNote) {
    const cur = state.current;
    const value = text.value.trim();
    if (!cur || !value) return;
    if (!asNote && !(cur.conv && cur.conv.mine)) {
      toast(t("take_first"), "error");
      return;
    }
    if (value.length > boot.max_chars) {
      toast(t("too_long", { count: boot.max_chars }), "error");
      return;
    }
    const path = `/chats/${encodeURIComponent(cur.cid)}/${asNote ? "notes" : "messages"}`;
    $("send-button").disabled = true;
    try {
      const data = await api("POST", path, { text: value });
      if (state.current === cur) {
        text.value = "";
        updateCount();
        addEvent(data.event);
      }
    } catch (error) {
      report(error);
    } finally {
      $("send-button").disabled = !(cur.conv && cur.conv.mine);
    }
  }

  $("composer").addEventListener("submit", (e) => { e.preventDefault(); submit(false); });
  $("note-button").addEventListener("click", () => submit(true));

  // -- transfer and close ---------------------------------------------------------------------
  $("transfer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const cur = state.current;
    const target = $("transfer-target").value;
    if (!cur || !target) return;
    const [kind, id] = target.split(":");
    try {
      await api("POST", `/chats/${encodeURIComponent(cur.cid)}/transfer`, kind === "agent" ? { to_agent: id } : { to_team: id });
      toast(t("transferred"), "info");
      await Promise.all([loadChats(), loadQueue(), refreshConversation()]);
    } catch (error) {
      report(error);
    }
  });

  $("close-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const cur = state.current;
    if (!cur) return;
    try {
      await api("POST", `/chats/${encodeURIComponent(cur.cid)}/close`, {
        resolution: $("close-resolution").value,
        summary: $("close-summary").value,
        next_steps: $("close-next").value,
      });
      $("close-summary").value = "";
      $("close-next").value = "";
      toast(t("closed"), "info");
      await Promise.all([loadChats(), refreshConversation(), fetchEvents()]);
    } catch (error) {
      report(error);
    }
  });

  // -- live updates ---------------------------------------------------------------------------
  let socket = null;
  let retries = 0;
  let chatsTimer = 0;
  let typingTimer = 0;

  function setConn(stateName, label) {
    const node = $("conn");
    node.dataset.state = stateName;
    node.textContent = label;
  }

  function refreshChatsSoon() {
    clearTimeout(chatsTimer);
    chatsTimer = setTimeout(() => loadChats().catch(report), 150);
  }

  async function resync() {
    try {
      await Promise.all([loadQueue(), loadChats()]);
      if (state.current) {
        watch(state.current.cid);
        await Promise.all([refreshConversation(), fetchEvents()]);
      }
    } catch (error) {
      report(error);
    }
  }

  function onMessage(message) {
    const cur = state.current;
    switch (message.type) {
      case "hello":
        resync();
        break;
      case "queue":
        renderQueue(message.queue);
        break;
      case "state":
        if (message.to === "with_agent" && message.agent_id === me.id && !state.taking.delete(message.cid)) {
          assigned(message.cid);
        }
        refreshChatsSoon();
        if (cur && cur.cid === message.cid) {
          refreshConversation().catch(report);
          fetchEvents().catch(report);
        }
        break;
      case "event":
        if (cur && cur.cid === message.cid) addEvent(message.event);
        else {
          setPreview(message.cid, message.event);
          const li = $("my-chats").querySelector(`li[data-cid="${CSS.escape(message.cid)}"]`);
          if (li && message.event.kind === "customer") {
            li.classList.add("unread");
            updateBadge();
          }
        }
        break;
      case "typing":
        if (cur && cur.cid === message.cid) {
          const node = $("typing");
          node.textContent = message.agent === "customer" ? t("typing_customer") : t("typing_agent", { agent: message.agent });
          node.hidden = false;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { node.hidden = true; }, 5000);
        }
        break;
      case "presence":
        if (message.agent === me.id) showPresence(message.to);
        else if ($("tools-box").open) loadColleagues().catch(() => {});
        break;
      default:
        break;
    }
  }

  function connect() {
    setConn("connecting", retries ? t("conn_reconnecting") : t("conn_connecting"));
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/console/ws");
    socket.addEventListener("open", () => {
      retries = 0;
      setConn("live", t("conn_live"));
    });
    socket.addEventListener("message", (e) => {
      let message;
      try { message = JSON.parse(e.data); } catch (_) { return; }
      onMessage(message);
    });
    socket.addEventListener("close", (e) => {
      socket = null;
      if (e.code === 4401) { window.location.assign("/console/login"); return; }
      setConn("offline", t("conn_offline"));
      const delay = Math.min(10000, 500 * 2 ** retries) * (0.75 + Math.random() * 0.5);
      retries += 1;
      setTimeout(connect, delay);
    });
  }


  // -- alerts: sound, title badge, desktop notifications, the "assigned" toast -------------------------
  const baseTitle = document.title;
  let audio = null;

  /** Whether the agent is looking at the desk now (visible and focused). */
  function lookedAt() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  /** The title shows how many chats wait for the agent: unread chats and queue arrivals not yet seen. */
  function updateBadge() {
    const unread = $("my-chats").querySelectorAll("li.unread").length + state.newInQueue;
    document.title = unread ? `(${unread}) ${baseTitle}` : baseTitle;
    document.documentElement.dataset.unread = String(unread);
  }

  function seen() {
    if (!lookedAt()) return;
    state.newInQueue = 0;
    updateBadge();
  }
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", seen);

  // Browsers allow sound only after the page got a click or a key; the first one creates the context.
  function unlockAudio() {
    if (audio || !window.AudioContext) return;
    try { audio = new AudioContext(); } catch (_) { audio = null; }
  }
  document.addEventListener("pointerdown", unlockAudio, { once: true, capture: true });
  document.addEventListener("keydown", unlockAudio, { once: true, capture: true });

  /** Two short tones (made here: no sound file to fetch). */
  function chime() {
    if (!audio) return;
    const start = audio.currentTime;
    [880, 1320].forEach((frequency, index) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + index * 0.16);
      gain.gain.exponentialRampToValueAtTime(0.15, start + index * 0.16 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + index * 0.16 + 0.15);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + index * 0.16);
      osc.stop(start + index * 0.16 + 0.16);
    });
    state.chimes = (state.chimes || 0) + 1;
    document.documentElement.dataset.chimes = String(state.chimes);
  }

  function notifyButton() {
    const button = $("notify-enable");
    if (!("Notification" in window)) { button.hidden = true; return; }
    button.hidden = Notification.permission === "granted";
    button.textContent = Notification.permission === "denied" ? t("notify_blocked") : t("notify_enable");
    button.disabled = Notification.permission === "denied";
  }

  // Permission is asked only here, after the agent clicked "enable".
  $("notify-enable").addEventListener("click", () => {
    if (!("Notification" in window)) return;
    Promise.resolve(Notification.requestPermission()).then((permission) => {
      notifyButton();
      if (permission === "granted") toast(t("notify_on"), "info");
    }).catch(report);
  });

  /** Sound, and a desktop notification when the agent allowed them and is looking elsewhere. */
  function alertAgent(message, cid) {
    chime();
    if (!("Notification" in window) || Notification.permission !== "granted" || lookedAt()) return;
    try {
      const note = new Notification(baseTitle, { body: message, tag: "kesher-" + cid, lang: boot.lang, dir: boot.dir });
      note.addEventListener("click", () => { window.focus(); openChat(cid); note.close(); });
    } catch (_) { /* some browsers only notify from a service worker: the sound and the badge remain */ }
  }

  /** A chat the assigner (or a transfer) gave to this agent: toast, sound, badge, notification. */
  function assigned(cid) {
    const show = (chat) => {
      const who = (chat && (chat.customer_name || chat.reference)) || cid;
      toast(t("notify_assigned", { who }), "info");
      alertAgent(t("notify_assigned", { who }), cid);
      const li = $("my-chats").querySelector(`li[data-cid="${CSS.escape(cid)}"]`);
      if (li && !(state.current && state.current.cid === cid)) li.classList.add("unread");
      updateBadge();
    };
    loadChats().then(() => show(state.chats.find((c) => c.cid === cid))).catch(() => show(null));
  }

  // -- the transfer list: who is online and how full ----------------------------------------------------
  const PRESENCE = {
    online: () => t("presence_online_short"),
    away: () => t("presence_away_short"),
    offline: () => t("presence_offline_short"),
  };

  async function loadColleagues() {
    const data = await api("GET", "/agents");
    const group = $("transfer-agents");
    const chosen = $("transfer-target").value;
    clear(group);
    const order = { online: 0, away: 1, offline: 2 };
    const rows = data.agents.slice().sort((a, b) => (order[a.presence] ?? 3) - (order[b.presence] ?? 3) || a.name.localeCompare(b.name));
    for (const agent of rows) {
      group.append(el("option", {
        value: `agent:${agent.id}`,
        dataset: { presence: agent.presence, load: String(agent.load), capacity: String(agent.capacity) },
        text: t("transfer_agent_option", {
          name: agent.name, presence: (PRESENCE[agent.presence] || PRESENCE.offline)(), load: agent.load, capacity: agent.capacity,
        }),
      }));
    }
    $("transfer-target").value = chosen;
  }

  $("tools-box").addEventListener("toggle", () => { if ($("tools-box").open) loadColleagues().catch(report); });
  $("transfer-target").addEventListener("focus", () => loadColleagues().catch(() => {}));

  // -- search ---------------------------------------------------------------------------------------------
  const FIELDS = {
    reference: () => t("search_field_reference"),
    name: () => t("search_field_name"),
    email: () => t("search_field_email"),
    phone: () => t("search_field_phone"),
    text: () => t("search_field_text"),
  };

  function hitState(hit) {
    switch (hit.state) {
      case "queued": return t("search_state_queued");
      case "with_agent": return t("search_state_with_agent", { agent: hit.agent_name || "?" });
      case "closed": return t("search_state_closed");
      default: return t("search_state_bot");
    }
  }

  function renderHits(data) {
    const list = $("search-list");
    clear(list);
    for (const hit of data.results) {
      list.append(el("li", { dataset: { cid: hit.cid } }, [
        el("button", { type: "button" }, [
          el("span", {}, [
            el("bdi", { className: "who", text: hit.customer_name || hit.reference || hit.cid }),
            " ",
            el("span", { className: "lang lang-" + hit.language, text: (hit.language || "").toUpperCase() }),
            hit.mine ? null : el("span", { className: "readonly", text: " " + t("search_readonly") }),
          ]),
          el("small", { text: `${hit.reference ? hit.reference + " · " : ""}${hitState(hit)}` }),
          el("small", {}, [`${(FIELDS[hit.field] || FIELDS.text)()}: `, el("bdi", { text: hit.snippet })]),
        ]),
      ]));
    }
    $("search-count").textContent = String(data.results.length);
    $("search-count").title = t("search_count", { count: data.results.length });
    $("search-empty").hidden = data.results.length > 0;
    $("search-results").hidden = false;
  }

  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const query = $("search-text").value.trim();
    if (!query) { $("search-results").hidden = true; return; }
    api("GET", `/search?q=${encodeURIComponent(query)}`).then(renderHits).catch(report);
  });
  $("search-clear").addEventListener("click", () => {
    $("search-text").value = "";
    $("search-results").hidden = true;
  });
  $("search-list").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-cid]");
    if (li) openChat(li.dataset.cid);
  });

  // -- start ---------------------------------------------------------------------------------------
  notifyButton();
  // For the desk's other modules (one script each, loaded after this one).
  window.kesherDesk = { api, t, el, toast, openChat, statusName, current: () => state.current, boot };
  connect();
  if (window.location.hash.length > 1) {
    openChat(decodeURIComponent(window.location.hash.slice(1)));
  }
})();
