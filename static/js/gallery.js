// Filters the connector gallery as the user types: the same rule as the server's
// gallery_matches (every word of the query starts a word of a card's names, aliases or
// category).
(function () {
  const input = document.getElementById("gallery-search");
  if (!input) return;
  const groups = Array.from(document.querySelectorAll(".gallery-group"));
  const empty = document.getElementById("gallery-empty");

  function apply() {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const group of groups) {
      let inGroup = 0;
      for (const card of group.querySelectorAll(".card")) {
        const tokens = (card.dataset.search || "").split(/\s+/);
        const match = words.every((word) => tokens.some((token) => token.startsWith(word)));
        card.hidden = !match;
        if (match) inGroup += 1;
      }
      group.hidden = inGroup === 0;
      shown += inGroup;
    }
    empty.hidden = shown > 0;
    empty.querySelector("span").textContent = input.value;
    const url = new URL(window.location);
    if (input.value) url.searchParams.set("q", input.value);
    else url.searchParams.delete("q");
    window.history.replaceState(null, "", url);
  }

  input.addEventListener("input", apply);
  input.closest("form").addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  // The server already filtered by ?q= (marking cards hidden); typing filters again.
})();
