/* Kesher agent console: acting on the customer's orders from the customer panel (#17).
 *
 * Fills <section id="order-actions"> of the desk page whenever the panel is drawn for a chat
 * (the chat is the page's #fragment, which console.js keeps): the customer's verified orders,
 * each with "cancel", "change address" and "store credit". An action the store's rules refuse
 * now is disabled, with the reason. Every action goes through a confirmation step: the server
 * says what will happen (POST .../order-actions without "confirm"), the agent confirms, and only
 * then is it done ("confirm": true). Rules, permissions and the audit are all on the server
 * (console/order_actions.py); this file only shows them. Text from the server or the customer is
 * put in the page with textContent only, and every word comes from the catalog (boot texts).
 */
(function () {
  "use strict";

  const root = document.getElementById("order-actions");
  const panel = document.getElementById("panel-body");
  if (!root || !panel) return;
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const KINDS = ["cancel_order", "change_address", "store_credit"];
  const NAMES = {
    cancel_order: t("order_action_cancel_order"),
    change_address: t("order_action_change_address"),
    store_credit: t("order_action_store_credit"),
  };
  let loading = 0;

  /** The catalog's text console_<key> in the agent's language (as in console.js). */
  function t(key, values) {
    if (!Object.prototype.hasOwnProperty.call(boot.texts, key)) return key;
    return kesherMessageFormat.format(boot.texts[key], values || {}, boot.lang);
  }

  /** An order's status in the agent's language: console.js's, which runs first (both scripts are deferred). */
  const { statusName } = window.kesherDesk;

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function currentChat() {
    const hash = window.location.hash.slice(1);
    try { return hash ? decodeURIComponent(hash) : ""; } catch (_) { return ""; }
  }

  async function call(method, cid, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(`/console/api/chats/${encodeURIComponent(cid)}/order-actions`, options);
    let data = {};
    try { data = await response.json(); } catch (_) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error || String(response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // -- the list ------------------------------------------------------------------------------
  async function load() {
    const cid = currentChat();
    const mine = ++loading;
    if (!cid) { root.hidden = true; return; }
    let data;
    try {
      data = await call("GET", cid);
    } catch (error) {
      // Not this agent's chat (403), or the store is down: the panel itself says the rest.
      if (mine === loading) { root.hidden = true; root.replaceChildren(); }
      return;
    }
    if (mine !== loading) return;
    render(cid, data.orders || []);
  }

  function render(cid, orders) {
    const items = orders.map((order) => el("li", { className: "order-action", dataset: { order: order.order_id } }, [
      el("div", { className: "order-action-head" }, [
        el("strong", { dir: "ltr", text: order.order_id }),
        el("span", { className: `status status-${order.status}`, text: statusName(order.status) }),
      ]),
      Number(order.credit_issued) > 0
        ? el("p", { className: "muted", text: t("order_action_credit_issued", { amount: order.credit_issued, currency: order.currency }) })
        : null,
      el("div", { className: "order-action-buttons" }, KINDS.map((kind) => {
        const refusal = order.actions[kind];
        return el("button", {
          type: "button", className: "secondary", dataset: { action: kind },
          disabled: Boolean(refusal), title: refusal || undefined, text: NAMES[kind],
          onclick: () => open(cid, order, kind),
        });
      })),
      ...KINDS.filter((kind) => order.actions[kind]).map((kind) =>
        el("p", { className: "muted refusal", dataset: { action: kind }, text: order.actions[kind] })),
    ]));
    root.replaceChildren(
      el("h3", { text: t("order_action_title") }),
      items.length ? el("ul", { className: "plain order-actions" }, items) : el("p", { className: "empty", text: t("order_action_none") }),
    );
    root.hidden = false;
  }

  // -- the confirmation step -------------------------------------------------------------------
  function open(cid, order, kind) {
    const dialog = el("dialog", { className: "order-action-dialog", id: "order-action-dialog", dir: boot.dir, lang: boot.lang });
    const message = el("p", { className: "order-action-preview", dir: "auto", role: "status" });
    const error = el("p", { className: "order-action-error", role: "alert", hidden: true });
    const field = kind === "change_address"
      ? el("input", { type: "text", name: "address", dir: "auto", maxlength: "300", value: order.address || "" })
      : kind === "store_credit"
        ? el("input", { type: "text", name: "amount", dir: "ltr", inputmode: "decimal" })
        : null;
    const body = { action: kind, order_id: order.order_id };
    const back = el("button", { type: "button", className: "secondary", text: t("order_action_back"), onclick: () => dialog.close() });
    const review = el("button", { type: "button", className: "review", text: t("order_action_review") });
    const confirm = el("button", { type: "button", className: "danger confirm", text: t("order_action_confirm"), hidden: true });

    function fail(err) {
      error.textContent = err.message;
      error.hidden = false;
    }

    async function ask() {
      error.hidden = true;
      if (field) body[field.name] = field.value;
      try {
        const data = await call("POST", cid, body);
        message.textContent = data.preview;
        confirm.hidden = false;
        review.hidden = true;
        if (field) field.disabled = true;
        confirm.focus();
      } catch (err) { fail(err); }
    }

    review.addEventListener("click", ask);
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const data = await call("POST", cid, Object.assign({}, body, { confirm: true }));
        dialog.close();
        const toast = document.getElementById("toast");
        if (toast) { toast.textContent = data.done; toast.dataset.kind = "info"; toast.hidden = false; }
        load();
      } catch (err) {
        confirm.disabled = false;
        fail(err);
      }
    });
    dialog.addEventListener("close", () => dialog.remove());
    const label = kind === "change_address" ? t("order_action_address_label")
      : kind === "store_credit" ? t("order_action_amount_label", { currency: order.currency, allowance: order.credit_allowance }) : "";
    dialog.append(
      el("h3", { text: `${NAMES[kind]} · ${order.order_id}` }),
      field ? el("label", {}, [label, field]) : null,
      message, error,
      el("div", { className: "order-action-bar" }, [back, review, confirm].filter(Boolean)),
    );
    document.body.append(dialog);
    dialog.showModal();
    if (field) field.focus();
    else ask();
  }

  // console.js redraws the panel whenever it opens (or re-opens) a chat.
  new MutationObserver(() => { load(); }).observe(panel, { childList: true });
  window.addEventListener("hashchange", load);
  if (currentChat()) load();
})();
