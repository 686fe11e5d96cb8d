/*
 * Kesher web chat widget (browser side).
 *
 * Embed with one tag:
 *   <script src="https://HOST/webhooks/web/widget.js" defer data-lang="auto"></script>
 *
 * The header shows the catalog's name of the shop in the customer's language (widget_bot_name);
 * data-title="..." replaces it with one fixed name in every language.
 *
 * Plain JavaScript, no dependencies, no build step. Works under a strict CSP:
 * no eval, no inline scripts or styles, and every message text is set with
 * textContent. The only global it defines is window.Kesher = {open, close, send}.
 */
(function () {
  "use strict";

  if (window.Kesher || document.getElementById("kesher-widget")) {
    return; // loaded twice: keep the first one
  }

  // ---------------------------------------------------------------- config --

  const script = document.currentScript || findOwnScript();
  if (!script || !script.src) {
    return;
  }
  const BASE = baseFrom(script.src);
  const WS_URL = BASE.replace(/^http/i, "ws") + "/socket";
  const TITLE = (script.getAttribute("data-title") || "").trim(); // empty: the catalog's name of the bot
  const LANG_SETTING = (script.getAttribute("data-lang") || "auto").trim().toLowerCase();

  const KEY_SESSION = "kesher.web.session";
  const KEY_SEQ = "kesher.web.seq";
  const KEY_OPEN = "kesher.web.open";
  const KEY_LOG = "kesher.web.log"; // sessionStorage: transcript cache for reloads

  const MAX_CHARS = 4000;
  const TYPING_MS = 6000; // a typing frame from the server
  const AWAIT_REPLY_MS = 15000; // after the customer sends
  const TYPING_THROTTLE_MS = 3000;
  const CACHE_MAX = 200;
  const HEBREW = /[\u0590-\u05FF]/;
  const LATIN_WORD = /^[("'\u201c\u2018]*[A-Za-z]+(?:['\u2019-][A-Za-z]+)*[)"'\u201d\u2019.,!?:;]*$/;

  function findOwnScript() {
    const scripts = document.getElementsByTagName("script");
    for (let i = scripts.length - 1; i >= 0; i--) {
      const src = scripts[i].src || "";
      if (/widget\.js$/.test(src.split(/[?#]/)[0])) {
        return scripts[i];
      }
    }
    return null;
  }

  function baseFrom(src) {
    const url = new URL(src, document.baseURI);
    url.search = "";
    url.hash = "";
    return url.href.replace(/\/[^/]*$/, ""); // drop "/widget.js"
  }

  // --------------------------------------------------------------- strings --

  // The catalog's widget_* texts of both languages (data/texts/widget.yml, without the prefix):
  // the web channel serves this file with them in place of the empty ones below.
  const TEXTS = /*kesher:texts*/ { en: {}, he: {} } /*kesher:end*/;
  // The quick topics under the greeting ({title, payload} per language; widget_greeting's buttons).
  const TOPICS = /*kesher:topics*/ { en: [], he: [] } /*kesher:topics-end*/;

  // Fills the catalog's {arguments} and plural forms: edge/static/message-format.js, which the
  // web channel puts in place of the marker below when it serves this file.
  /*kesher:message-format*/

  /** The catalog's text widget_<key> in the widget's language, its {arguments} filled in. */
  function t(key, values) {
    const language = lang || "en";
    const texts = TEXTS[language] || {};
    if (!Object.prototype.hasOwnProperty.call(texts, key)) {
      return key;
    }
    return kesherMessageFormat.format(texts[key], values, language);
  }

  // --------------------------------------------------------------- storage --

  const memoryStore = {};
  function storage(kind) {
    try {
      const s = window[kind];
      const probe = "kesher.web.probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }
  const local = storage("localStorage");
  const sessionStore = storage("sessionStorage");

  function getItem(store, key) {
    try {
      return store ? store.getItem(key) : (key in memoryStore ? memoryStore[key] : null);
    } catch (e) {
      return null;
    }
  }
  function setItem(store, key, value) {
    try {
      if (store) {
        store.setItem(key, value);
      } else {
        memoryStore[key] = value;
      }
    } catch (e) {
      /* quota or privacy mode: the widget still works for this page */
    }
  }
  function removeItem(store, key) {
    try {
      if (store) {
        store.removeItem(key);
      } else {
        delete memoryStore[key];
      }
    } catch (e) {
      /* ignore */
    }
  }

  function loadSession() {
    try {
      const data = JSON.parse(getItem(local, KEY_SESSION) || "null");
      if (data && typeof data.session === "string" && data.session && typeof data.token === "string") {
        return { session: data.session, token: data.token };
      }
    } catch (e) {
      /* corrupt: start over */
    }
    return null;
  }
  function storedSeq() {
    const n = Number(getItem(local, KEY_SEQ));
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  // --------------------------------------------------------------- helpers --

  function uuid() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID(); // secure contexts only
      } catch (e) {
        /* fall through */
      }
    }
    const bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(bytes);
    } else {
      for (let i = 0; i < 16; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function textDir(text) {
    return HEBREW.test(text) ? "rtl" : "ltr";
  }

  /** A message's direction: from its language (the server's "lang"), else Hebrew letters anywhere. */
  function messageDir(language, text) {
    if (language === "he") {
      return "rtl";
    }
    if (language === "en") {
      return "ltr";
    }
    return textDir(text);
  }

  /** "he", "en", or null when the text says nothing (an e-mail address, an order number). */
  function textLang(text) {
    if (HEBREW.test(text)) {
      return "he";
    }
    return text.split(/\s+/).some((word) => LATIN_WORD.test(word)) ? "en" : null;
  }

  function charCount(text) {
    let n = 0;
    for (const _ of text) {
      n++;
    }
    return n;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const name of Object.keys(attrs)) {
        const value = attrs[name];
        if (value === true) {
          node.setAttribute(name, "");
        } else if (value !== false && value !== null && value !== undefined) {
          node.setAttribute(name, String(value));
        }
      }
    }
    for (const child of children || []) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function icon(cls, paths) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", `kesher-icon ${cls}`);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of paths) {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    }
    return svg;
  }
  const ICON_CHAT = [
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.2 3.5A.5.5 0 0 1 4 21.1V18a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  ];
  const ICON_CLOSE = [
    "M6.7 5.3 12 10.6l5.3-5.3a1 1 0 1 1 1.4 1.4L13.4 12l5.3 5.3a1 1 0 0 1-1.4 1.4L12 13.4l-5.3 5.3a1 1 0 0 1-1.4-1.4l5.3-5.3-5.3-5.3a1 1 0 0 1 1.4-1.4z",
  ];
  const ICON_ATTACH = [
    "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z",
  ];
  const ICON_SEND = ["M3.4 20.4 21 12 3.4 3.6a.6.6 0 0 0-.8.7L4.8 11l9.2 1-9.2 1-2.2 6.7a.6.6 0 0 0 .8.7z"];

  // ------------------------------------------------------------------- DOM --

  const ui = {};

  ui.launcherText = el("span", { id: "kesher-unread", class: "kesher-sr", hidden: true });
  ui.badge = el("span", { class: "kesher-badge", "aria-hidden": "true", hidden: true });
  ui.launcher = el(
    "button",
    {
      id: "kesher-launcher",
      class: "kesher-launcher",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "kesher-panel",
    },
    [icon("kesher-icon-chat", ICON_CHAT), icon("kesher-icon-close", ICON_CLOSE), ui.badge, ui.launcherText]
  );

  ui.title = el("h2", { class: "kesher-title" });
  ui.subtitle = el("p", { class: "kesher-subtitle" });
  ui.close = el("button", { class: "kesher-close", type: "button" }, [icon("kesher-icon-close", ICON_CLOSE)]);
  ui.header = el("div", { class: "kesher-header" }, [
    el("div", { class: "kesher-heading" }, [ui.title, ui.subtitle]),
    ui.close,
  ]);

  ui.status = el("div", { id: "kesher-status", class: "kesher-status", role: "status", hidden: true });
  ui.conn = el("div", { id: "kesher-conn", class: "kesher-conn", role: "status", hidden: true });
  ui.log = el("div", {
    id: "kesher-log",
    class: "kesher-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    tabindex: "0",
  });
  ui.jump = el("button", { id: "kesher-jump", class: "kesher-jump", type: "button", hidden: true });
  ui.logWrap = el("div", { class: "kesher-log-wrap" }, [ui.log, ui.jump]);
  ui.typingText = el("span", { class: "kesher-typing-text" });
  ui.typing = el("div", { id: "kesher-typing", class: "kesher-typing", role: "status", hidden: true }, [
    el("span", { class: "kesher-dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
    ui.typingText,
  ]);

  ui.label = el("label", { class: "kesher-sr", for: "kesher-input" });
  ui.input = el("textarea", {
    id: "kesher-input",
    class: "kesher-input",
    rows: "1",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  ui.sendText = el("span", { class: "kesher-sr" });
  ui.send = el("button", { id: "kesher-send", class: "kesher-send", type: "submit" }, [
    icon("kesher-icon-send", ICON_SEND),
    ui.sendText,
  ]);
  // An image for the agent, only while a person has the conversation (the bot cannot look at it).
  ui.file = el("input", { id: "kesher-file", class: "kesher-sr", type: "file", tabindex: "-1",
    accept: "image/png,image/jpeg,image/webp,image/gif" });
  ui.attach = el("button", { id: "kesher-attach", class: "kesher-attach", type: "button", hidden: true }, [
    icon("kesher-icon-attach", ICON_ATTACH),
  ]);
  ui.inputError = el("p", { id: "kesher-input-error", class: "kesher-input-error", role: "alert" });
  ui.form = el("form", { class: "kesher-form", novalidate: true }, [
    el("div", { class: "kesher-compose" }, [ui.label, ui.attach, ui.file, ui.input, ui.send]),
    ui.inputError,
  ]);

  ui.panel = el(
    "div",
    { id: "kesher-panel", class: "kesher-panel", role: "dialog", hidden: true },
    [ui.header, ui.status, ui.conn, ui.logWrap, ui.typing, ui.form]
  );
  ui.root = el("div", { id: "kesher-widget", class: "kesher-root" }, [ui.launcher, ui.panel]);

  // ----------------------------------------------------------------- state --

  let creds = loadSession();
  let lang = null; // "en" | "he", set by applyLang()
  let lastCustomerLang = null;
  let isOpen = false;

  let ws = null;
  let wsGen = 0; // bumps on every new socket: events of old sockets are ignored
  let ready = false; // a hello arrived on the current socket
  let started = false;
  let attempt = 0;
  let reconnectTimer = null;
  let sessionPromise = null;
  let resets = 0;
  let lastReset = 0;

  let maxSeq = 0;
  const seenSeq = new Set();
  const byId = new Map(); // message_id -> element
  const buttonsOf = new WeakMap(); // element -> [{title, payload}]
  const usedButtons = new WeakSet();
  let cache = []; // server messages shown, for the sessionStorage transcript cache
  const outbox = []; // frames the server has not echoed yet, oldest first
  const sentFrames = new Map(); // message_id → the last few messages sent, to send again when the bot failed

  let status = { state: "bot", position: null, agent_name: "" };
  let typing = null; // {who, name}
  let typingTimer = null;
  let lastTypingSent = 0;
  let errorShown = false;
  let unreadBaseline = storedSeq(); // messages up to here were seen before this page load
  let unread = 0;
  let atBottom = true; // the reader sees the newest message (kept up to date by the log's scroll events)
  let unseen = 0; // messages that arrived while the reader had scrolled up
  let greeting = null; // the greeting bubble, always first in the log

  // -------------------------------------------------------------- language --

  function wantedLang() {
    if (LANG_SETTING === "he" || LANG_SETTING === "en") {
      return LANG_SETTING;
    }
    if ((document.documentElement.lang || "").toLowerCase().startsWith("he")) {
      return "he";
    }
    return lastCustomerLang || "en";
  }

  function applyLang() {
    const next = wantedLang();
    if (next === lang) {
      return;
    }
    lang = next;
    const dir = lang === "he" ? "rtl" : "ltr";
    for (const node of [ui.root, ui.panel]) {
      node.setAttribute("dir", dir);
      node.setAttribute("lang", lang);
    }
    const title = TITLE || t("bot_name");
    ui.title.textContent = title;
    ui.panel.setAttribute("aria-label", title);
    ui.launcher.setAttribute("aria-label", t("launcher"));
    ui.close.setAttribute("aria-label", t("close"));
    ui.subtitle.textContent = t("subtitle");
    ui.log.setAttribute("aria-label", t("log"));
    ui.label.textContent = t("input_label");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.sendText.textContent = t("send");
    ui.attach.setAttribute("aria-label", t("attach"));
    ui.attach.setAttribute("title", t("attach"));
    ui.form.setAttribute("aria-label", t("form"));
    ui.conn.textContent = t("reconnecting");
    if (errorShown) {
      ui.inputError.textContent = t("too_long", { count: MAX_CHARS });
    }
    for (const node of ui.log.querySelectorAll(".kesher-who")) {
      node.textContent = whoLabel(node.getAttribute("data-role"), node.getAttribute("data-name"));
    }
    for (const node of ui.log.querySelectorAll(".kesher-msg--pending .kesher-meta")) {
      node.textContent = t("sending");
    }
    for (const node of ui.log.querySelectorAll("time[data-ts]")) {
      node.textContent = formatTime(Number(node.getAttribute("data-ts")));
    }
    for (const node of ui.log.querySelectorAll(".kesher-buttons")) {
      node.setAttribute("aria-label", t("quick_replies"));
    }
    for (const node of ui.log.querySelectorAll(".kesher-author[data-default]")) {
      node.textContent = t("agent_name");
    }
    renderGreeting();
    renderJump();
    renderStatus();
    renderTyping();
    renderUnread();
  }

  function noteCustomerText(text) {
    const l = textLang(text);
    if (l) {
      lastCustomerLang = l;
    }
  }

  function whoLabel(role, name) {
    if (role === "customer") {
      return `${t("you")}:`;
    }
    return `${name || t("bot_name")}:`;
  }

  // -------------------------------------------------------------- messages --

  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 48;
  }
  function scrollToBottom() {
    ui.log.scrollTop = ui.log.scrollHeight;
    atBottom = true;
    unseen = 0;
    renderJump();
  }

  /** The "new messages" button: shown while messages the reader has not scrolled to wait below. */
  function renderJump() {
    ui.jump.hidden = !unseen;
    ui.jump.textContent = unseen ? t("new_messages", { count: unseen }) : "";
  }

  ui.log.addEventListener("scroll", () => {
    atBottom = nearBottom();
    if (atBottom && unseen) {
      unseen = 0;
      renderJump();
    }
  }, { passive: true });
  ui.jump.addEventListener("click", () => {
    scrollToBottom();
    const items = ui.log.querySelectorAll(".kesher-msg");
    if (items.length) {
      items[items.length - 1].setAttribute("tabindex", "-1");
      items[items.length - 1].focus({ preventScroll: true });
    }
  });

  const timeFormats = {};
  function formatTime(ts) {
    const locale = lang || "en";
    try {
      if (!timeFormats[locale]) {
        timeFormats[locale] = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
      }
      return timeFormats[locale].format(new Date(ts * 1000));
    } catch (e) {
      return "";
    }
  }

  function setMeta(node, ts) {
    node.textContent = "";
    if (typeof ts === "number" && Number.isFinite(ts) && ts > 0) {
      const time = el("time", { datetime: new Date(ts * 1000).toISOString(), "data-ts": ts }, [formatTime(ts)]);
      node.appendChild(time);
    }
  }

  /** Where a message with this seq goes: before the first later or still-unsent message. */
  function placeBySeq(node, seq) {
    let ref = null;
    for (const child of ui.log.children) {
      if (child === node) {
        continue;
      }
      const s = child.getAttribute("data-seq");
      if (s !== null ? Number(s) > seq : child.classList.contains("kesher-msg--pending")) {
        ref = child;
        break;
      }
    }
    if (node.parentNode === ui.log && node.nextElementSibling === ref) {
      return; // already there: moving it would re-announce it
    }
    ui.log.insertBefore(node, ref);
  }

  function cleanButtons(list) {
    if (!Array.isArray(list)) {
      return [];
    }
    return list
      .filter((b) => b && typeof b.title === "string" && b.title.trim())
      .map((b) => ({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title }));
  }

  function buildBubble(role, text, name, language) {
    const dir = messageDir(language, text);
    const node = el("div", { class: `kesher-msg kesher-msg--${role}`, dir });
    if (role === "agent") {
      node.appendChild(
        el("div", { class: "kesher-author", "data-default": name ? null : "" }, [
          name ? el("bdi", {}, [name]) : t("agent_name"),
        ])
      );
    } else if (role === "customer" || role === "bot") {
      node.appendChild(
        el("span", { class: "kesher-sr kesher-who", "data-role": role, "data-name": name || null }, [
          whoLabel(role, name),
        ])
      );
    }
    node.appendChild(el("div", { class: "kesher-text", dir }, withLinks(text)));
    node.appendChild(el("div", { class: "kesher-meta" }));
    return node;
  }

  /**
   * The text as nodes: **bold** as <strong>, [words](https://...) and bare http(s) URLs as links that
   * open in a new tab (kesherMarkup, in edge/static/message-format.js; never innerHTML), and in the
   * plain parts each reference, code, e-mail address or phone number isolated (isolateCodes).
   */
  function withLinks(text) {
    const out = [];
    for (const s of kesherMarkup.parse(text)) {
      const inner = s.url
        ? [el("a", { class: "kesher-link", href: s.url, target: "_blank", rel: "noopener noreferrer" }, [s.text])]
        : isolateCodes(s.text);
      if (s.bold) out.push(el("strong", {}, inner));
      else out.push(...inner);
    }
    return out;
  }

  // References (K-D901A7), codes (SORRY-50), e-mail addresses and phone numbers.
  const CODE_RE =
    /[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[A-Z][A-Z0-9]*-[A-Z0-9]+(?:-[A-Z0-9]+)*\b|\+?\d[\d-]{6,}\d|\d+(?:[.,:/-]\d+)+/g;

  /**
   * Plain text as text nodes, each reference, code, e-mail address or phone number in an isolated
   * span that never breaks across lines: a Hebrew line keeps its direction, and "K-D901A7" stays whole.
   * Takes and returns a list of nodes' content, so other renderers can chain it.
   */
  function isolateCodes(text) {
    const parts = [];
    let last = 0;
    for (const match of String(text).matchAll(CODE_RE)) {
      if (match.index > last) parts.push(text.slice(last, match.index));
      parts.push(el("bdi", { class: "kesher-code" }, [match[0]]));
      last = match.index + match[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }

  /**
   * Shows one server MESSAGE unless it was shown already. Returns "new", "ack"
   * (the echo of a message shown optimistically) or null (a duplicate).
   */
  function addServerMessage(m) {
    if (!m || typeof m !== "object") {
      return null;
    }
    const seq = typeof m.seq === "number" && Number.isFinite(m.seq) ? m.seq : null;
    const id = typeof m.message_id === "string" && m.message_id ? m.message_id : null;
    const role = ["customer", "bot", "agent", "system"].includes(m.role) ? m.role : "system";
    let text = typeof m.text === "string" ? m.text : m.text == null ? "" : String(m.text);
    if (m.attachment === "image" && !text.trim()) {
      text = t("image_sent");
    }

    if (seq !== null && seenSeq.has(seq)) {
      return null;
    }
    if (seq !== null) {
      seenSeq.add(seq);
      maxSeq = Math.max(maxSeq, seq);
    }
    if (id && byId.has(id)) {
      const node = byId.get(id);
      if (seq === null || node.hasAttribute("data-seq")) {
        return null;
      }
      node.setAttribute("data-seq", String(seq));
      node.classList.remove("kesher-msg--pending");
      setMeta(node.querySelector(".kesher-meta"), m.ts);
      dropFromOutbox(id);
      placeBySeq(node, seq);
      cache.push(m);
      return "ack";
    }

    const language = m.lang === "he" || m.lang === "en" ? m.lang : null;
    const node = buildBubble(role, text, typeof m.author_name === "string" ? m.author_name : "", language);
    if (id) {
      node.setAttribute("data-message-id", id);
      byId.set(id, node);
    }
    if (typeof m.image === "string" && /^https?:\/\//i.test(m.image)) {
      // The server's entries may carry an image URL (not in the widget protocol's MESSAGE, but harmless).
      const img = el("img", { class: "kesher-image", src: m.image, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
      img.addEventListener("load", () => {
        if (atBottom) {
          scrollToBottom(); // the picture made the log taller: keep the newest message in view
        }
      });
      node.insertBefore(img, node.querySelector(".kesher-meta"));
    }
    setMeta(node.querySelector(".kesher-meta"), m.ts);
    if (role === "bot" && text) {
      addRejectButton(node, text);
    }
    const buttons = cleanButtons(m.buttons);
    if (buttons.length && role !== "customer") {
      buttonsOf.set(node, buttons);
    }
    if (seq !== null) {
      node.setAttribute("data-seq", String(seq));
      placeBySeq(node, seq);
    } else {
      ui.log.appendChild(node);
    }
    if (role === "customer") {
      noteCustomerText(text);
    }
    cache.push(m);
    return "new";
  }

  /**
   * A small thumbs-down under a bot answer (#18): "not what I asked" sends /answer_rejected with the
   * answer it rejects, so the writers' unanswered-questions page lists the question and that answer.
   * Self-contained: addServerMessage calls it for each bot bubble; the button is used once.
   */
  function addRejectButton(node, text) {
    const label = t("answer_rejected");
    const button = el("button", { class: "kesher-reject", type: "button", title: label, "aria-label": label });
    button.appendChild(icon("kesher-reject-icon", [
      "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 " +
        ".41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z",
    ]));
    button.addEventListener("click", () => {
      button.disabled = true;
      node.classList.add("kesher-msg--rejected");
      sendCustomer(label, "/answer_rejected" + JSON.stringify({ rejected_answer: String(text).slice(0, 300) }));
    });
    node.querySelector(".kesher-meta").appendChild(button);
  }

  function addPendingBubble(frame) {
    const node = buildBubble("customer", frame.text, "", null);
    node.classList.add("kesher-msg--pending");
    node.setAttribute("data-message-id", frame.message_id);
    node.querySelector(".kesher-meta").textContent = t("sending");
    byId.set(frame.message_id, node);
    ui.log.appendChild(node);
  }

  /** A line the widget itself writes (errors, notices): not a server message. */
  function addNotice(text) {
    const node = buildBubble("system", text, "", lang);
    node.classList.add("kesher-msg--local");
    node.setAttribute("data-message-id", `local-${uuid()}`);
    const stick = atBottom || nearBottom();
    ui.log.appendChild(node);
    if (stick) {
      scrollToBottom();
    }
  }

  // -------------------------------------------------------------- greeting --

  /** The greeting at the top of the log, with the quick topics until the customer has written. */
  function renderGreeting() {
    if (!lang) {
      return;
    }
    const text = t("greeting");
    const node = buildBubble("bot", text, "", lang);
    // Styled as the bot's, but not one of its messages (tests and refreshButtons count those).
    node.classList.replace("kesher-msg--bot", "kesher-msg--greeting");
    node.classList.add("kesher-msg--local");
    const wrote = cache.some((m) => m && m.role === "customer") || outbox.length > 0;
    const topics = TOPICS[lang] || [];
    if (!wrote && topics.length) {
      const box = el("div", { class: "kesher-buttons kesher-topics", role: "group", "aria-label": t("topics") });
      for (const topic of topics) {
        const button = el("button", { class: "kesher-button", type: "button" }, [topic.title]);
        button.addEventListener("click", () => {
          const hadFocus = box.contains(document.activeElement);
          box.remove();
          sendCustomer(topic.title, topic.payload);
          if (hadFocus) {
            ui.input.focus();
          }
        });
        box.appendChild(button);
      }
      node.appendChild(box);
    }
    if (greeting && greeting.parentNode === ui.log) {
      ui.log.replaceChild(node, greeting);
    } else {
      ui.log.insertBefore(node, ui.log.firstChild);
    }
    greeting = node;
  }

  function dropTopics() {
    if (greeting) {
      const box = greeting.querySelector(".kesher-topics");
      if (box) {
        box.remove();
      }
    }
  }

  /** Only the newest message keeps its quick replies, and only if it is not the customer's. */
  function refreshButtons() {
    let last = null;
    const items = ui.log.querySelectorAll(".kesher-msg:not(.kesher-msg--local)");
    if (items.length) {
      last = items[items.length - 1];
    }
    for (const box of ui.log.querySelectorAll(".kesher-buttons:not(.kesher-topics)")) {
      if (box.parentNode !== last) {
        box.remove();
      }
    }
    if (!last || last.classList.contains("kesher-msg--customer") || usedButtons.has(last)) {
      return;
    }
    const buttons = buttonsOf.get(last);
    if (!buttons || last.querySelector(".kesher-buttons")) {
      return;
    }
    const box = el("div", { class: "kesher-buttons", role: "group", "aria-label": t("quick_replies") });
    for (const b of buttons) {
      const button = el("button", { class: "kesher-button", type: "button", dir: "auto" }, [b.title]);
      button.addEventListener("click", () => {
        if (usedButtons.has(last)) {
          return;
        }
        usedButtons.add(last);
        for (const other of box.querySelectorAll("button")) {
          other.disabled = true;
        }
        const hadFocus = box.contains(document.activeElement);
        sendCustomer(b.title, b.payload);
        box.remove();
        if (hadFocus) {
          ui.input.focus();
        }
      });
      box.appendChild(button);
    }
    last.appendChild(box);
  }

  function persist() {
    setItem(local, KEY_SEQ, String(maxSeq));
    if (cache.length > CACHE_MAX) {
      cache = cache.slice(-CACHE_MAX);
    }
    if (creds) {
      setItem(sessionStore, KEY_LOG, JSON.stringify({ session: creds.session, messages: cache }));
    }
  }

  /** Renders server messages (history or live), then tidies up once. */
  function renderServerMessages(list, live) {
    const stick = atBottom || nearBottom();
    let fromOthers = false;
    let customer = false;
    let added = 0;
    for (const m of list) {
      const result = addServerMessage(m);
      if (!result) {
        continue;
      }
      if (m.role === "customer") {
        customer = true;
      } else {
        fromOthers = true;
        if (result === "new") {
          added++;
        }
        if (result === "new" && live && !isOpen && typeof m.seq === "number" && m.seq > unreadBaseline) {
          unread++;
        }
      }
    }
    if (fromOthers) {
      hideTyping();
    }
    refreshButtons();
    persist();
    if (customer) {
      applyLang();
      dropTopics();
    }
    renderUnread();
    if (stick || customer) {
      scrollToBottom();
    } else if (added) {
      unseen += added;
      renderJump();
    }
  }

  function clearLog() {
    ui.log.textContent = "";
    seenSeq.clear();
    byId.clear();
    cache = [];
    maxSeq = 0;
    greeting = null;
    unseen = 0;
    renderGreeting();
    renderJump();
  }

  function restoreCache() {
    if (!creds) {
      return;
    }
    try {
      const data = JSON.parse(getItem(sessionStore, KEY_LOG) || "null");
      if (data && data.session === creds.session && Array.isArray(data.messages)) {
        renderServerMessages(data.messages, false);
      }
    } catch (e) {
      /* a broken cache only costs a longer hello history */
    }
  }

  // ---------------------------------------------------------------- status --

  function applyStatus(s) {
    if (!s || typeof s !== "object") {
      return;
    }
    status = {
      state: typeof s.state === "string" ? s.state : "bot",
      position: typeof s.position === "number" && s.position > 0 ? s.position : null,
      agent_name: typeof s.agent_name === "string" ? s.agent_name : "",
    };
    if (status.state === "queued" || status.state === "with_agent") {
      if (typing && typing.who === "bot") {
        hideTyping(); // a person is handling it now: the bot will not answer
      }
    }
    renderStatus();
  }

  function renderStatus() {
    let text = "";
    if (status.state === "queued") {
      text = status.position ? t("queued", { position: status.position }) : t("queued_no_position");
    } else if (status.state === "with_agent") {
      text = status.agent_name ? t("with_agent", { name: status.agent_name }) : t("with_an_agent");
    }
    ui.status.setAttribute("data-state", status.state);
    ui.attach.hidden = status.state !== "queued" && status.state !== "with_agent";
    if (ui.status.textContent !== text) {
      ui.status.textContent = text;
    }
    ui.status.hidden = !text;
  }

  // ---------------------------------------------------------------- typing --

  function showTyping(who, name, ms) {
    typing = { who: who === "agent" ? "agent" : "bot", name: typeof name === "string" ? name.trim() : "" };
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, ms);
    renderTyping();
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    typing = null;
    renderTyping();
  }

  function renderTyping() {
    if (!typing) {
      ui.typing.hidden = true;
      ui.typingText.textContent = "";
      return;
    }
    const name = typing.name || (typing.who === "agent" ? status.agent_name || t("agent_name") : t("bot_name"));
    const text = t("typing", { name });
    if (ui.typingText.textContent !== text) {
      ui.typingText.textContent = text;
    }
    ui.typing.hidden = false;
  }

  // ---------------------------------------------------------------- unread --

  function renderUnread() {
    if (!unread || isOpen) {
      ui.badge.hidden = true;
      ui.launcherText.hidden = true;
      ui.launcher.removeAttribute("aria-describedby");
      return;
    }
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    ui.badge.hidden = false;
    ui.launcherText.textContent = t("unread", { count: unread });
    ui.launcher.setAttribute("aria-describedby", "kesher-unread");
  }

  // -------------------------------------------------------------- sessions --

  function ensureSession() {
    if (creds) {
      return Promise.resolve(creds);
    }
    const stored = loadSession(); // another tab may have made one
    if (stored) {
      creds = stored;
      return Promise.resolve(creds);
    }
    if (!sessionPromise) {
      sessionPromise = fetch(`${BASE}/session`, { method: "POST", credentials: "omit", cache: "no-store" })
        .then((res) => {
          if (!res.ok) {
            throw new Error(`session: HTTP ${res.status}`);
          }
          return res.json();
        })
        .then((data) => {
          if (!data || typeof data.session !== "string" || !data.session || typeof data.token !== "string") {
            throw new Error("session: bad answer");
          }
          creds = { session: data.session, token: data.token };
          setItem(local, KEY_SESSION, JSON.stringify(creds));
          setItem(local, KEY_SEQ, "0");
          removeItem(sessionStore, KEY_LOG);
          unreadBaseline = 0;
          return creds;
        })
        .finally(() => {
          sessionPromise = null;
        });
    }
    return sessionPromise;
  }

  /** The server refused the session (403): forget it, start a new one, keep unsent messages. */
  function resetSession() {
    const rejected = creds;
    dropSocket();
    const stored = loadSession();
    if (stored && rejected && stored.session === rejected.session) {
      removeItem(local, KEY_SESSION);
    }
    removeItem(sessionStore, KEY_LOG);
    setItem(local, KEY_SEQ, "0");
    creds = null;
    unreadBaseline = 0;
    clearLog();
    hideTyping();
    applyStatus({ state: "bot" });
    addNotice(t("new_session"));
    for (const frame of outbox) {
      frame.sentOn = 0;
      addPendingBubble(frame);
    }
    scrollToBottom();
    const now = Date.now();
    resets = now - lastReset < 30000 ? resets + 1 : 1;
    lastReset = now;
    if (!isOpen && !outbox.length) {
      started = false; // nothing to say yet: make the new session when the customer opens the chat
    } else if (resets > 2) {
      scheduleReconnect(); // something is wrong on the server: do not spin
    } else {
      start();
    }
  }

  // ------------------------------------------------------------ connection --

  function start() {
    started = true;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    ensureSession().then(connect, () => scheduleReconnect());
  }

  function dropSocket() {
    wsGen++;
    ready = false;
    if (ws) {
      const old = ws;
      ws = null;
      try {
        old.close();
      } catch (e) {
        /* ignore */
      }
    }
  }

  function connect() {
    dropSocket();
    const gen = wsGen;
    let sock;
    try {
      sock = new WebSocket(WS_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.addEventListener("open", () => {
      if (gen !== wsGen || !creds) {
        return;
      }
      sock.send(JSON.stringify({ type: "hello", session: creds.session, token: creds.token, after: maxSeq }));
    });
    sock.addEventListener("message", (event) => {
      if (gen === wsGen && typeof event.data === "string") {
        onFrame(event.data);
      }
    });
    sock.addEventListener("close", (event) => {
      if (gen !== wsGen) {
        return;
      }
      ws = null;
      ready = false;
      if (event.code === 4403) {
        resetSession();
      } else {
        scheduleReconnect();
      }
    });
    // "error" is always followed by "close", which reconnects.
  }

  function scheduleReconnect() {
    ready = false;
    ui.conn.hidden = false;
    if (reconnectTimer) {
      return;
    }
    const base = Math.min(10000, 500 * Math.pow(2, attempt));
    attempt++;
    const delay = base + Math.random() * Math.min(1000, base * 0.3);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      start();
    }, delay);
  }

  function onFrame(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (!frame || typeof frame !== "object") {
      return;
    }
    switch (frame.type) {
      case "hello":
        ready = true;
        attempt = 0;
        resets = 0;
        ui.conn.hidden = true;
        applyStatus(frame.status);
        renderServerMessages(Array.isArray(frame.history) ? frame.history : [], true);
        flush();
        break;
      case "message":
        renderServerMessages([frame], true);
        break;
      case "status":
        applyStatus(frame);
        break;
      case "typing":
        showTyping(frame.who, frame.name, TYPING_MS);
        break;
      case "error":
        if (frame.status === 403) {
          resetSession();
        } else {
          // The server's reason is for developers (and in English); the customer is told in their language.
          console.warn("kesher widget:", frame.status, frame.error);
          const failed = frame.status === 500 && sentFrames.get(frame.message_id);
          if (failed && failed.resends < 5) {
            // The bot failed on it: the same message again, with its id (after a few, a person takes it).
            failed.resends++;
            setTimeout(() => {
              if (!sendFrame(failed.wire)) addNotice(t("error_retry"));
            }, 1000 * failed.resends);
          } else if (frame.status === 413) {
            addNotice(t("too_long", { count: MAX_CHARS }));
          } else if (frame.status === 429) {
            addNotice(t("slow_down"));
          } else if (frame.status === 503) {
            addNotice(t("error_retry"));
          } else {
            addNotice(t("error"));
          }
        }
        break;
      default:
        break;
    }
  }

  function sendFrame(frame) {
    if (!ready || !ws || ws.readyState !== WebSocket.OPEN) {
      return false;
    }
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  /** Sends, in order, every unechoed message not yet sent on this socket. */
  function flush() {
    for (const frame of outbox) {
      if (frame.sentOn === wsGen) {
        continue;
      }
      const wire = { type: frame.type, text: frame.text, message_id: frame.message_id };
      if (frame.payload !== undefined) {
        wire.payload = frame.payload;
      }
      if (!sendFrame(wire)) {
        return;
      }
      frame.sentOn = wsGen;
      sentFrames.set(wire.message_id, { wire, resends: 0 });
      if (sentFrames.size > 20) sentFrames.delete(sentFrames.keys().next().value);
    }
  }

  function dropFromOutbox(id) {
    const i = outbox.findIndex((f) => f.message_id === id);
    if (i >= 0) {
      outbox.splice(i, 1);
    }
  }

  // ------------------------------------------------------------- composing --

  function showInputError(on) {
    errorShown = on;
    ui.inputError.textContent = on ? t("too_long", { count: MAX_CHARS }) : "";
    ui.inputError.hidden = !on;
    if (on) {
      ui.input.setAttribute("aria-invalid", "true");
      ui.input.setAttribute("aria-describedby", "kesher-input-error");
    } else {
      ui.input.removeAttribute("aria-invalid");
      ui.input.removeAttribute("aria-describedby");
    }
  }

  /** Sends a customer message; false when it was empty or too long. */
  function sendCustomer(rawText, payload) {
    const text = String(rawText == null ? "" : rawText).trim();
    if (!text) {
      return false;
    }
    if (charCount(text) > MAX_CHARS) {
      showInputError(true);
      return false;
    }
    const frame = { type: "message", text, message_id: uuid() };
    if (typeof payload === "string") {
      frame.payload = payload;
    }
    frame.sentOn = 0;
    outbox.push(frame);
    addPendingBubble(frame);
    noteCustomerText(text);
    applyLang();
    dropTopics();
    refreshButtons();
    scrollToBottom();
    if (status.state !== "queued" && status.state !== "with_agent") {
      showTyping("bot", "", AWAIT_REPLY_MS);
    }
    if (!started) {
      start();
    } else {
      flush();
    }
    return true;
  }

  // ---------------------------------------------------------------- images --

  const MAX_IMAGE_BYTES = 1024 * 1024; // the server's limit (handoff/uploads.py)
  const MAX_IMAGE_SIDE = 1600;

  /** The picked file, or a JPEG of it scaled down when it is too large for the server. */
  function fitImage(file) {
    if (file.size <= MAX_IMAGE_BYTES || typeof createImageBitmap !== "function") {
      return Promise.resolve(file);
    }
    return createImageBitmap(file).then((bitmap) => {
      const scale = Math.min(1, MAX_IMAGE_SIDE / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), "image/jpeg", 0.85));
    });
  }

  function sendImage(file) {
    if (!creds) {
      addNotice(t("image_not_now"));
      return;
    }
    fitImage(file)
      .then((body) =>
        fetch(`${BASE}/upload`, {
          method: "POST",
          credentials: "omit",
          cache: "no-store",
          headers: {
            "content-type": body.type || "application/octet-stream",
            "x-kesher-session": creds.session,
            "x-kesher-token": creds.token,
            "x-kesher-message-id": uuid(),
          },
          body,
        })
      )
      .then((res) => {
        if (res.status === 409) {
          addNotice(t("image_not_now"));
        } else if (res.status === 429) {
          addNotice(t("slow_down"));
        } else if (!res.ok) {
          addNotice(t("image_error"));
        }
      })
      .catch(() => addNotice(t("image_error")));
  }

  ui.attach.addEventListener("click", () => ui.file.click());
  ui.file.addEventListener("change", () => {
    const file = ui.file.files && ui.file.files[0];
    ui.file.value = "";
    if (file) {
      sendImage(file);
    }
    ui.input.focus();
  });

  function autoGrow() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 120)}px`;
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sendCustomer(ui.input.value)) {
      ui.input.value = "";
      autoGrow();
      showInputError(false);
    }
    ui.input.focus();
  });

  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ui.form.requestSubmit ? ui.form.requestSubmit(ui.send) : ui.send.click();
    }
  });

  ui.input.addEventListener("input", () => {
    autoGrow();
    if (errorShown && charCount(ui.input.value.trim()) <= MAX_CHARS) {
      showInputError(false);
    }
    const now = Date.now();
    if (ui.input.value.trim() && now - lastTypingSent >= TYPING_THROTTLE_MS && sendFrame({ type: "typing" })) {
      lastTypingSent = now;
    }
  });

  // ------------------------------------------------------------ open/close --

  function openPanel(focusInput) {
    if (!isOpen) {
      isOpen = true;
      ui.panel.hidden = false;
      ui.root.classList.add("kesher-root--open");
      ui.launcher.setAttribute("aria-expanded", "true");
      setItem(local, KEY_OPEN, "1");
      unread = 0;
      renderUnread();
      scrollToBottom();
      if (!started) {
        start();
      }
    }
    if (focusInput) {
      ui.input.focus();
    }
  }

  function closePanel(focusLauncher) {
    if (!isOpen) {
      return;
    }
    const hadFocus = ui.panel.contains(document.activeElement);
    isOpen = false;
    ui.panel.hidden = true;
    ui.root.classList.remove("kesher-root--open");
    ui.launcher.setAttribute("aria-expanded", "false");
    removeItem(local, KEY_OPEN);
    if (focusLauncher || hadFocus) {
      ui.launcher.focus();
    }
  }

  ui.launcher.addEventListener("click", () => (isOpen ? closePanel(false) : openPanel(true)));
  ui.close.addEventListener("click", () => closePanel(true));
  ui.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.isComposing) {
      event.preventDefault();
      event.stopPropagation();
      closePanel(true);
    }
  });

  window.addEventListener("online", () => {
    if (reconnectTimer) {
      start();
    }
  });

  // ------------------------------------------------------------------ boot --

  function stylesheet() {
    const href = `${BASE}/widget.css`;
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
      if (link.href === href) {
        return;
      }
    }
    ui.root.hidden = true; // no flash of an unstyled widget
    const link = el("link", { rel: "stylesheet", href });
    const show = () => {
      ui.root.hidden = false;
    };
    link.addEventListener("load", show);
    link.addEventListener("error", show);
    (document.head || document.documentElement).appendChild(link);
  }

  function boot() {
    applyLang();
    showInputError(false);
    restoreCache(); // before the log is in the page, so screen readers do not read it all out
    stylesheet();
    document.body.appendChild(ui.root);
    if (getItem(local, KEY_OPEN) === "1") {
      openPanel(false); // restoring after a reload: do not steal focus
    }
    if (creds && !started) {
      start(); // a conversation exists: connect now to receive replies even while closed
    }
  }

  window.Kesher = Object.freeze({
    open() {
      openPanel(true);
    },
    close() {
      closePanel(false);
    },
    send(text) {
      return sendCustomer(text);
    },
  });

  if (document.body) {
    boot();
  } else {
    document.addEventListener("DOMContentLoaded", boot, { once: true });
  }
})();
