// The designer's progressive enhancement: offer the attributes of the trigger chosen (the
// start trigger in the settings, the trigger waited for in a wait-for step), only the
// operators an attribute's type allows, a value input of the right kind, add condition
// rows, and show a wait's duration or date. Everything also works without it (the server
// checks the same rules).
(function () {
  "use strict";
  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var HINTS = {
    number: "e.g. 50", text: "text", boolean: "true or false",
    datetime: "2026-12-24T09:00:00+01:00", list: "a value to look for", object: ""
  };

  // The attribute picker follows the start trigger chosen (its schema, nested paths included).
  function fillAttributes(select, schema) {
    var chosen = select.value;
    while (select.options.length > 1) select.remove(1);
    Object.keys(schema).forEach(function (path) {
      var option = new Option(path + " (" + schema[path] + ")", path, false, path === chosen);
      option.setAttribute("data-type", schema[path]);
      select.add(option);
    });
    select.dispatchEvent(new Event("change"));
  }

  function setUpWait() {
    var modes = document.querySelectorAll("input[name=mode]");
    if (!modes.length) return;
    var duration = document.querySelectorAll(".field-amount, .field-unit");
    var until = document.querySelectorAll(".field-until");
    function refresh() {
      var checked = document.querySelector("input[name=mode]:checked");
      var useUntil = checked && checked.value === "until";
      Array.prototype.forEach.call(duration, function (row) { row.hidden = useUntil; });
      Array.prototype.forEach.call(until, function (row) { row.hidden = !useUntil; });
    }
    Array.prototype.forEach.call(modes, function (radio) { radio.addEventListener("change", refresh); });
    refresh();
  }

  // A wait-for shows the segment picker, or the trigger with its message and conditions.
  function setUpWaitFor() {
    var choices = document.querySelectorAll("input[name=wait_on]");
    if (!choices.length) return;
    // Scoped to the form that offers the choice, whatever kind of step it edits.
    var form = choices[0].closest("form") || document;
    var segment = form.querySelectorAll(".field-segment");
    var trigger = form.querySelectorAll(".field-trigger, .field-of_step, .field-conditions");
    function refresh() {
      var checked = document.querySelector("input[name=wait_on]:checked");
      var onSegment = checked && checked.value === "segment";
      Array.prototype.forEach.call(segment, function (row) { row.hidden = !onSegment; });
      Array.prototype.forEach.call(trigger, function (row) { row.hidden = onSegment; });
    }
    Array.prototype.forEach.call(choices, function (radio) { radio.addEventListener("change", refresh); });
    refresh();
  }

  function setUpRow(row, operators) {
    var attribute = row.querySelector("[data-attribute]");
    var operator = row.querySelector("[data-operator]");
    var value = row.querySelector("[data-value]");
    if (!attribute || !operator || !value) return;
    function refresh() {
      var option = attribute.options[attribute.selectedIndex];
      var type = option ? option.getAttribute("data-type") : null;
      var firstAllowed = null;
      Array.prototype.forEach.call(operator.options, function (op) {
        var allowed = !type || (operators[op.value] || []).indexOf(type) !== -1;
        op.disabled = !allowed;
        op.hidden = !allowed;
        if (allowed && firstAllowed === null) firstAllowed = op;
      });
      if (operator.selectedOptions[0] && operator.selectedOptions[0].disabled && firstAllowed) {
        operator.value = firstAllowed.value;
      }
      var op = operator.value;
      var list = op === "in" || op === "not_in";
      var none = op === "exists" || op === "not_exists";
      value.disabled = none || attribute.disabled;
      value.type = type === "number" && !list ? "number" : "text";
      if (value.type === "number") value.step = "any";
      value.placeholder = none ? "no value needed" : list ? "values, separated by commas" : (HINTS[type] || "");
    }
    attribute.addEventListener("change", refresh);
    operator.addEventListener("change", refresh);
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpWait();
    setUpWaitFor();
    // The picker follows the trigger live, so the button that redraws the page for another
    // trigger (the way without scripts) is not needed.
    Array.prototype.forEach.call(document.querySelectorAll("[data-redraw]"), function (el) { el.remove(); });
    var box = document.querySelector("[data-conditions]");
    var operators = readJSON("operator-types");
    if (!box || !operators) return;
    var schemas = readJSON("trigger-schemas") || {};
    var rows = document.getElementById("conditions-rows");
    // The start trigger in the settings, the trigger waited for in a step.
    var trigger = document.getElementById(box.getAttribute("data-trigger"));
    function currentSchema() { return (trigger && schemas[trigger.value]) || {}; }
    Array.prototype.forEach.call(rows.querySelectorAll("[data-condition]"), function (row) {
      setUpRow(row, operators);
    });
    function refreshAttributes() {
      Array.prototype.forEach.call(rows.querySelectorAll("[data-condition]"), function (row) {
        var select = row.querySelector("[data-attribute]");
        if (select.disabled) return;
        var had = select.value;
        fillAttributes(select, currentSchema());
        // A condition on an attribute the new trigger does not have is emptied (and so left out).
        if (had && !select.value) row.querySelector("[data-value]").value = "";
      });
    }
    if (trigger && !trigger.disabled) {
      trigger.addEventListener("change", refreshAttributes);
      refreshAttributes();
    }
    var add = document.getElementById("add-condition");
    var template = document.getElementById("conditions-empty");
    var total = document.getElementById("id_conditions-TOTAL_FORMS");
    var max = document.getElementById("id_conditions-MAX_NUM_FORMS");
    if (!add || !template || !total) return;
    function update() { add.hidden = parseInt(total.value, 10) >= parseInt(max.value, 10); }
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, index).replace(/Condition new/g, "Condition " + (index + 1));
      var holder = document.createElement("tbody");
      holder.innerHTML = html;
      var row = holder.querySelector("tr");
      rows.appendChild(row);
      total.value = index + 1;
      fillAttributes(row.querySelector("[data-attribute]"), currentSchema());
      setUpRow(row, operators);
      row.querySelector("[data-attribute]").focus();
      update();
    });
    update();
  });
})();
