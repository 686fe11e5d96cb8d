/* Kesher console: the desk's heartbeat and why a chat left (console/presence.py, handoff/presence.py).
 *
 * While the desk is open it posts a heartbeat (with the session's CSRF token) as often as the
 * server asks; an agent the server made away for want of heartbeats is online again with the next
 * one. (The console's websocket proves the same while it is open; this covers a socket that is
 * reconnecting.) The answer lists the chats taken from this agent since the last beat (on opening
 * the desk: in the last hour) and why
 * (the customer waited too long unanswered, or a supervisor moved it), in the agent's language;
 * each is shown until dismissed.
 */
(function () {
  "use strict";

  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const dismiss = (boot.texts && boot.texts.presence_dismiss) || "×";
  let after = 0;
  let timer = 0;

  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = "/console/static/presence.css";
  document.head.append(style);

  const box = document.createElement("div");
  box.className = "presence-notices";
  box.id = "presence-notices";
  box.setAttribute("role", "status");
  box.setAttribute("aria-live", "polite");
  document.body.append(box);

  function show(moved) {
    const notice = document.createElement("div");
    notice.className = "presence-notice";
    notice.dataset.cid = moved.cid;
    notice.dataset.reason = moved.reason;
    const text = document.createElement("p");
    text.textContent = moved.text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = dismiss;
    close.addEventListener("click", () => notice.remove());
    notice.append(text, close);
    box.append(notice);
  }

  const shown = new Set(); // "cid at" of the moves already shown

  async function beat() {
    let next = 15;
    const asked = after ? Math.max(0, after - 5) : 0;
    try {
      const response = await fetch("/console/api/heartbeat", {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ after: asked }),
      });
      if (response.ok) {
        const data = await response.json();
        next = data.next_seconds || next;
        // On opening the desk, what moved in the last hour (while the tab was closed, say) is shown too.
        // Asked again a few seconds back each time (a move stamped just before the last beat's clock reading
        // may be listed only now); each move is shown once.
        const since = after ? asked : data.server_time - 3600;
        data.moved.filter((m) => m.at > since && !shown.has(`${m.cid} ${m.at}`)).reverse().forEach((m) => {
          shown.add(`${m.cid} ${m.at}`);
          show(m);
        });
        after = data.server_time;
      }
    } catch (_) {
      // offline for a moment: the next beat tries again
    }
    clearTimeout(timer);
    timer = setTimeout(beat, next * 1000);
  }

  beat();
})();
