// The page of `reorder serve`: order a text, show its report, steer the order with constraints.
// Everything the server returns is shown with textContent or as the report's HTML, which the server
// renders with every unit's text escaped.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const state = {
    text: "", // the text ordered (a file's exact content, or the text area's)
    fileText: null, // the content of the file opened, until the text area is edited
    unit: "paragraph",
    constraints: { first: null, last: null, before: [] },
    data: null, // the last answer of /api/order
    busy: false,
  };

  function preview(text) {
    const flat = text.split(/\s+/).join(" ").trim();
    return flat.length > 60 ? flat.slice(0, 59) + "…" : flat;
  }

  function payload() {
    const c = state.constraints;
    const constraints = {};
    if (c.first !== null) constraints.first = c.first;
    if (c.last !== null) constraints.last = c.last;
    if (c.before.length) constraints.before = c.before.map((pair) => pair.slice());
    const alternatives = Math.max(0, Math.min(20, parseInt($("alternatives").value, 10) || 0));
    return { text: state.text, unit: state.unit, constraints: constraints, alternatives: alternatives,
      confidence: true, explain: true, html: true };
  }

  function setBusy(busy, message) {
    state.busy = busy;
    document.body.setAttribute("data-busy", busy ? "true" : "false");
    $("order-button").disabled = busy;
    $("status").textContent = message || "";
  }

  // Ask the server to solve under the current constraints; `undo` puts the constraints back when refused.
  function solve(undo) {
    setBusy(true, "ordering…");
    $("error").textContent = "";
    const started = performance.now();
    fetch("/api/order", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload()) })
      .then((response) => response.json().then((body) => ({ ok: response.ok, status: response.status, body: body })))
      .then((answer) => {
        if (!answer.ok) {
          if (undo) undo();
          showConstraints();
          setBusy(false, "");
          $("error").textContent = (answer.body && answer.body.error) || "the server refused (" + answer.status + ")";
          return;
        }
        state.data = answer.body;
        render();
        setBusy(false, "ordered in " + ((performance.now() - started) / 1000).toFixed(1) + " s");
        document.body.setAttribute("data-solves", String(1 + Number(document.body.getAttribute("data-solves") || 0)));
      })
      .catch((error) => {
        if (undo) undo();
        showConstraints();
        setBusy(false, "");
        $("error").textContent = "no answer from the server: " + error;
      });
  }

  function contentUnits() {
    // Content units in the order shown.
    if (!state.data) return [];
    const roles = state.data.units;
    return state.data.permutation.filter((i) => roles[i].role === "content");
  }

  function render() {
    const report = $("report");
    report.innerHTML = state.data.report_html;
    const c = state.constraints;
    report.querySelectorAll(".unit.content").forEach((unit) => {
      const index = Number(unit.getAttribute("data-index"));
      const controls = document.createElement("span");
      controls.className = "controls";
      for (const end of ["first", "last"]) {
        const button = document.createElement("button");
        button.type = "button";
        button.setAttribute("data-pin", end);
        button.setAttribute("data-index", String(index));
        button.textContent = c[end] === index ? "unpin " + end : "pin " + end;
        controls.appendChild(button);
      }
      unit.querySelector("summary").appendChild(controls);
      if (c.first === index || c.last === index) unit.classList.add("pinned");
      unit.setAttribute("draggable", "true");
    });
    showConstraints();
  }

  function describe(i) {
    const unit = state.data ? state.data.units[i] : null;
    return "unit " + i + (unit ? " (" + preview(unit.text) + ")" : "");
  }

  function showConstraints() {
    const c = state.constraints;
    const list = $("constraints");
    list.textContent = "";
    const items = [];
    if (c.first !== null) items.push(["first", describe(c.first) + " first", () => { c.first = null; }]);
    if (c.last !== null) items.push(["last", describe(c.last) + " last", () => { c.last = null; }]);
    c.before.forEach((pair, k) => items.push(["before", describe(pair[0]) + " before " + describe(pair[1]),
      () => { c.before.splice(k, 1); }]));
    for (const [kind, label, remove] of items) {
      const li = document.createElement("li");
      li.setAttribute("data-kind", kind);
      li.appendChild(document.createTextNode(label + " "));
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "remove";
      button.addEventListener("click", () => { if (!state.busy) { remove(); solve(null); } });
      li.appendChild(button);
      list.appendChild(li);
    }
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = "none: the order is the best the model finds";
      list.appendChild(li);
    }
    const data = state.data;
    $("steer").hidden = !data;
    if (data) {
      const cost = data.cost === null || data.cost === undefined ? 0 : data.cost;
      $("cost").textContent = items.length
        ? "The constraints cost " + cost.toFixed(3) + " of objective: " + data.objective.toFixed(3) +
          " against the unconstrained best " + Number(data.unconstrained_objective).toFixed(3) + "."
        : "Objective " + data.objective.toFixed(3) + " (" + (data.optimal ? "proven optimal" : "not proven optimal") + ").";
      for (const id of ["before-a", "before-b"]) {
        const select = $(id);
        const kept = select.value;
        select.textContent = "";
        for (const i of contentUnits()) {
          const option = document.createElement("option");
          option.value = String(i);
          option.textContent = describe(i);
          select.appendChild(option);
        }
        if (kept) select.value = kept;
      }
    }
  }

  // A change of constraints: apply it, re-solve, and undo it if the server refuses.
  function change(apply) {
    if (state.busy || !state.data) return;
    const saved = JSON.parse(JSON.stringify(state.constraints));
    apply(state.constraints);
    solve(() => { state.constraints = saved; });
  }

  // "a before b", replacing a "b before a" (a drag that reverses an earlier one).
  function addPair(c, a, b) {
    c.before = c.before.filter((pair) => !(pair[0] === b && pair[1] === a));
    if (!c.before.some((pair) => pair[0] === a && pair[1] === b)) c.before.push([a, b]);
  }

  function addBefore(a, b) {
    if (a === b) {
      $("error").textContent = "a unit cannot come before itself";
      return;
    }
    change((c) => addPair(c, a, b));
  }

  $("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      state.fileText = reader.result; // exact, CR LF included (the text area would turn it into LF)
      $("text").value = reader.result;
    };
    reader.onerror = () => { $("error").textContent = "cannot read " + file.name; };
    reader.readAsText(file);
  });
  $("text").addEventListener("input", () => { state.fileText = null; });

  $("order-button").addEventListener("click", () => {
    if (state.busy) return;
    state.text = state.fileText !== null ? state.fileText : $("text").value;
    state.unit = $("unit").value;
    state.constraints = { first: null, last: null, before: [] };
    state.data = null;
    solve(null);
  });

  $("add-before").addEventListener("click", () => {
    addBefore(Number($("before-a").value), Number($("before-b").value));
  });
  $("clear-constraints").addEventListener("click", () => {
    change((c) => { c.first = null; c.last = null; c.before = []; });
  });

  const report = $("report");
  report.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-pin]");
    if (!button) return;
    event.preventDefault(); // a button inside <summary> would also open or close the unit
    const index = Number(button.getAttribute("data-index"));
    const end = button.getAttribute("data-pin");
    change((c) => {
      c[end] = c[end] === index ? null : index;
      const other = end === "first" ? "last" : "first";
      if (c[other] === index) c[other] = null;
    });
  });

  // Drag a unit onto another: the dragged one goes right before it (after the unit now before it).
  report.addEventListener("dragstart", (event) => {
    const unit = event.target.closest && event.target.closest(".unit.content");
    if (!unit) return;
    event.dataTransfer.setData("text/plain", unit.getAttribute("data-index"));
    event.dataTransfer.effectAllowed = "move";
  });
  report.addEventListener("dragover", (event) => {
    const unit = event.target.closest && event.target.closest(".unit.content");
    if (!unit) return;
    event.preventDefault();
    report.querySelectorAll(".drop-target").forEach((u) => u.classList.remove("drop-target"));
    unit.classList.add("drop-target");
  });
  report.addEventListener("dragleave", (event) => {
    const unit = event.target.closest && event.target.closest(".unit.content");
    if (unit) unit.classList.remove("drop-target");
  });
  report.addEventListener("drop", (event) => {
    const unit = event.target.closest && event.target.closest(".unit.content");
    if (!unit) return;
    event.preventDefault();
    unit.classList.remove("drop-target");
    const dragged = Number(event.dataTransfer.getData("text/plain"));
    const target = Number(unit.getAttribute("data-index"));
    if (Number.isNaN(dragged) || dragged === target) return;
    const order = contentUnits().filter((i) => i !== dragged);
    const at = order.indexOf(target);
    change((c) => {
      const pairs = [[dragged, target]];
      if (at > 0) pairs.push([order[at - 1], dragged]);
      for (const [a, b] of pairs) addPair(c, a, b);
    });
  });
})();
