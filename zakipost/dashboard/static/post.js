// A post's page follows the post while it moves: the status part is fetched again every
// few seconds (less often as time passes, rarely while it waits for its scheduled time)
// and swapped in when its version changed, until the post is final.
(() => {
  "use strict";
  const live = document.getElementById("live");
  // Times typed in a form are in the browser's time zone.
  document.addEventListener("submit", (event) => {
    event.target.querySelectorAll("input.tz-offset").forEach((input) => {
      input.value = String(new Date().getTimezoneOffset());
    });
  });
  if (!live) return;
  let delay = 1500;

  async function poll() {
    const current = document.getElementById("post-status");
    if (!current || current.dataset.live !== "true") return;
    try {
      const response = await fetch(live.dataset.statusUrl, { headers: { Accept: "text/html" } });
      if (response.redirected || !response.ok) return; // signed out, or gone: stop
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();
      const next = holder.querySelector("#post-status");
      if (next && next.dataset.version !== current.dataset.version) current.replaceWith(next);
    } catch {
      // The network blinked: the next round tries again.
    }
    const waiting = document.getElementById("post-status")?.dataset.status === "scheduled";
    delay = waiting ? 30000 : Math.min(delay * 1.3, 10000);
    setTimeout(poll, delay);
  }

  setTimeout(poll, delay);
})();
