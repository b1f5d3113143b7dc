// Keeps counters live on cached pages: polls the count endpoint (served from
// Redis, cacheable for 2 s) and only ever moves a counter up.
(function () {
  "use strict";
  var POLL_MS = 15000;
  function format(n) { return Number(n).toLocaleString("en"); }
  function refresh(block) {
    // no-cache: revalidate (a cheap 304 by ETag) rather than reuse a copy from before a signature.
    fetch(block.getAttribute("data-count-url"), { cache: "no-cache", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        var count = block.querySelector(".counter__count");
        if (!count || data.count <= Number(count.getAttribute("data-count"))) return;
        count.setAttribute("data-count", data.count);
        count.textContent = format(data.count);
        // The phone's count under the headline (templates/petitions/includes/sign_call.html) follows.
        Array.prototype.forEach.call(document.querySelectorAll(".sign-call__count"), function (other) {
          other.textContent = format(data.count);
        });
        var progress = block.querySelector("progress");
        if (progress && data.goal) {
          progress.max = data.goal;
          progress.value = data.count;
          var text = block.querySelector(".counter__goal");
          var percent = Math.min(100, Math.round((100 * data.count) / data.goal));
          if (text) text.textContent = percent + "% of our goal of " + format(data.goal);
        }
      })
      .catch(function () {});
  }
  function start() {
    var blocks = document.querySelectorAll("[data-count-url]");
    Array.prototype.forEach.call(blocks, function (block) {
      refresh(block);
      setInterval(function () { if (!document.hidden) refresh(block); }, POLL_MS);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
