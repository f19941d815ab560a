// The report's one behaviour: expand or collapse every unit (a long document starts collapsed).
// Delegated from the document, so that it also works on a report the page replaces after a re-solve.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-action]") : null;
  if (!button) return;
  var action = button.getAttribute("data-action");
  if (action !== "expand" && action !== "collapse") return;
  var section = button.closest("section.order") || document;
  section.querySelectorAll(".unit details").forEach(function (details) {
    details.open = action === "expand";
  });
  if (section.setAttribute) section.setAttribute("data-state", action === "expand" ? "expanded" : "collapsed");
});
