// The list of schools, filtered as the person types (id, Chinese or English name, domain).
// Without JavaScript every school is listed and the browser's own find works.
"use strict";

(function () {
  const form = document.getElementById("school-search");
  const input = document.getElementById("school-filter");
  const count = document.getElementById("school-count");
  const none = document.getElementById("school-none");
  const items = Array.prototype.slice.call(document.querySelectorAll("#school-list > li"));
  const strings = (window.CERTSEAL_I18N || { strings: {} }).strings;
  if (!form || !input) return;
  form.hidden = false;
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
  });

  function update() {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    items.forEach(function (li) {
      const text = li.getAttribute("data-search") || "";
      const match = words.every(function (w) {
        return text.indexOf(w) >= 0;
      });
      li.hidden = !match;
      if (match) shown++;
    });
    count.textContent = (strings.schools_shown || "{shown} / {total}")
      .replace("{shown}", String(shown))
      .replace("{total}", String(items.length));
    none.hidden = shown > 0;
  }

  input.addEventListener("input", update);
  update();
})();
