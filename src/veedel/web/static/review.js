// The reviewer page: claim an item, show it blurred, record the decision.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const section = $("review");
  let current = null;
  let decided = 0;

  function setState(state, message) {
    section.dataset.state = state;
    section.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    $("status").textContent = message;
    $("item").hidden = state !== "ready";
  }

  async function loadNext() {
    current = null;
    setState("loading", "Loading the next image…");
    const response = await fetch("/api/v1/review/next", { credentials: "same-origin" });
    if (response.status === 204) {
      setState("empty", "The queue is empty. Nothing to review right now.");
      return;
    }
    if (!response.ok) {
      setState("error", "Could not load the queue (" + response.status + ").");
      return;
    }
    current = await response.json();
    const image = $("image");
    image.classList.add("blurred");
    image.src = current.image_url;
    $("item-id").textContent = "#" + current.item_id;
    $("surface").textContent = current.surface;
    $("score").textContent = current.blind ? "hidden (blind review)" : current.score.toFixed(3);
    $("reason").textContent = current.blind
      ? "blind sample: decide without the model's score"
      : current.reason;
    $("lease").textContent = new Date(current.lease_expires_at).toLocaleTimeString();
    $("decision-reason").value = "";
    setState("ready", "Image #" + current.item_id + " is yours until the time shown.");
  }

  function reveal() {
    if (current) $("image").classList.toggle("blurred");
  }

  async function decide(verdict) {
    if (!current) return;
    const item = current;
    current = null;
    setState("loading", "Saving…");
    const response = await fetch("/api/v1/review/" + item.item_id + "/decision", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({
        verdict: verdict,
        reason: $("decision-reason").value,
        token: item.token,
      }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      setState("error", "Not saved: " + (body.detail || response.status));
      return;
    }
    decided += 1;
    $("count").textContent = String(decided);
    await loadNext();
  }

  $("reveal").addEventListener("click", reveal);
  $("approve").addEventListener("click", () => decide("approve"));
  $("reject").addEventListener("click", () => decide("reject"));
  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLInputElement;
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = { v: reveal, a: () => decide("approve"), r: () => decide("reject") };
    const action = actions[event.key.toLowerCase()];
    if (action) {
      event.preventDefault();
      action();
    }
  });
  loadNext();
})();
