// Filters a checkbox list (the dbt Cloud job picker) as the user types, as gallery.js does
// the connector gallery: every word of the query starts a word of an option's label or
// its ID. Hidden options keep their ticks: a ticked job stays chosen while filtered out.
(function () {
  for (const input of document.querySelectorAll("input.picker-filter")) {
    const list = document.getElementById(input.dataset.filters);
    if (!list) continue;
    const empty = document.getElementById(input.dataset.filters + "-empty");
    const options = Array.from(list.querySelectorAll("input[type=checkbox]")).map((box) => {
      const label = box.closest("label") || box.parentElement;
      const text = (label.textContent + " " + box.value).toLowerCase();
      const row = label.parentElement === list ? label : label.parentElement;
      return { row, tokens: text.split(/[\s,·—()]+/).filter(Boolean) };
    });

    function apply() {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const option of options) {
        const match = words.every((word) => option.tokens.some((token) => token.startsWith(word)));
        option.row.hidden = !match;
        if (match) shown += 1;
      }
      if (empty) {
        empty.hidden = shown > 0;
        empty.querySelector("span").textContent = input.value;
      }
    }

    input.hidden = false;
    input.addEventListener("input", apply);
    // Enter in the filter must not submit the integration's form.
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault();
    });
  }
})();
