// Polls the running sync's status and moves the progress bar; reloads once it ends.
(function () {
  const box = document.getElementById("sync-progress");
  if (!box || !["queued", "running"].includes(box.dataset.status)) return;
  const bar = box.querySelector(".progress .progress-done");
  const meter = box.querySelector(".progress");
  const status = box.querySelector(".progress-status");
  const count = box.querySelector(".progress-count");

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const run = await response.json();
        bar.setAttribute("width", run.percent);
        meter.setAttribute("aria-valuenow", run.percent);
        status.textContent = run.status_label;
        box.dataset.status = run.status;
        if (run.progress_total) count.textContent = run.progress_done + " / " + run.progress_total + " " + (box.dataset.unit || "tables");
        if (run.finished) {
          window.setTimeout(() => window.location.reload(), 600);
          return;
        }
      }
    } catch (error) {
      // A failed poll is retried on the next tick.
    }
    window.setTimeout(poll, 1000);
  }
  poll();
})();
