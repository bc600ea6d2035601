/* The email designer: blocks a marketer adds, drags (or moves with the keyboard), edits in
 * place and previews at desktop and phone width, light and dark.
 *
 * No build step and no dependency. It edits the JSON in the form's #id_design textarea (the
 * server-side fallback: without this script the page still works, and the server validates
 * and renders every save). Previews come from the server (design-preview/), rendered by the
 * same code that renders the sent email. */
(function () {
  "use strict";

  var configNode = document.getElementById("email-designer-config");
  var textarea = document.getElementById("id_design");
  if (!configNode || !textarea) return;
  var config = JSON.parse(configNode.textContent);
  var design;
  try {
    design = JSON.parse(textarea.value || "{}");
  } catch (error) {
    return; // the JSON was hand-edited into something unreadable: leave the fallback as it is
  }
  if (!design || !Array.isArray(design.blocks)) design = { version: 1, blocks: [] };

  var NESTABLE = ["heading", "text", "image", "button", "divider", "spacer", "social"];
  var NETWORKS = { facebook: "Facebook", instagram: "Instagram", x: "X", linkedin: "LinkedIn", youtube: "YouTube" };
  var lastField = null; // where the personalisation picker inserts
  var lastRange = null;
  var previewTimer = null;
  var view = { width: 600, dark: false };
  var dragged = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function copy(value) {
    return JSON.parse(JSON.stringify(value));
  }

  function label(type) {
    return (config.blocks[type] || { label: type }).label;
  }

  var idCounter = 0;
  function uid(prefix) {
    idCounter += 1;
    return "dsg-" + prefix + "-" + idCounter;
  }

  // --- Saving into the form and previewing ------------------------------------------------

  function changed() {
    textarea.value = JSON.stringify(design, null, 2);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 350);
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function fieldValue(id) {
    var input = document.getElementById(id);
    return input ? input.value : undefined;
  }

  var previewFrame, previewSubject, previewProblems, previewStatus;
  var lastPreview = null;

  function refreshPreview() {
    previewStatus.textContent = "Updating the preview…";
    fetch(config.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ design: design, subject: fieldValue("id_subject"), preheader: fieldValue("id_preheader") }),
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        if (data.errors) {
          previewStatus.textContent = "Not shown: " + data.errors.join("; ");
          return;
        }
        lastPreview = data;
        var custom = document.getElementById("id_custom_text");
        var text = document.getElementById("id_text_body");
        if (text && custom && !custom.checked) text.value = data.text_body; // what the next save generates
        showPreview();
        previewStatus.textContent = "Preview up to date.";
      })
      .catch(function () {
        previewStatus.textContent = "The preview could not be loaded; saving still works.";
      });
  }

  function showPreview() {
    if (!lastPreview) return;
    previewFrame.srcdoc = view.dark ? lastPreview.dark_html : lastPreview.html;
    previewFrame.style.width = view.width + "px";
    previewFrame.title = "Email preview, " + (view.width === 600 ? "desktop" : "phone") + ", " + (view.dark ? "dark" : "light");
    previewSubject.textContent = lastPreview.subject;
    previewProblems.innerHTML = "";
    lastPreview.problems.forEach(function (problem) {
      previewProblems.appendChild(el("li", { class: "dsg-" + problem.severity, text: problem.field + ": " + problem.message }));
    });
    if (!lastPreview.problems.length) previewProblems.appendChild(el("li", { text: "No problems found." }));
  }

  // --- Personalisation picker ---------------------------------------------------------------

  function remember(event) {
    var target = event.target;
    if (target.closest(".dsg-picker")) return; // the picker's own fields are not where it inserts
    if (target.matches("input[type=text], input[type=url], textarea, [contenteditable=true]")) {
      lastField = target;
      if (target.isContentEditable) rememberRange();
    }
  }

  function rememberRange() {
    var selection = window.getSelection();
    if (selection.rangeCount && lastField && lastField.contains(selection.anchorNode)) lastRange = selection.getRangeAt(0).cloneRange();
  }

  function expression(variable, fallback) {
    if (!fallback) return "{{ " + variable + " }}";
    var quote = fallback.indexOf("'") === -1 ? "'" : '"';
    fallback = fallback.split(quote).join("");
    return "{{ " + variable + "|default:" + quote + fallback + quote + " }}";
  }

  function insertAtCursor(text) {
    if (!lastField || !document.body.contains(lastField)) return false;
    if (lastField.isContentEditable) {
      // Into the remembered caret position, by hand: focusing the field again would move it.
      var node = document.createTextNode(text);
      if (lastRange && lastField.contains(lastRange.startContainer)) {
        lastRange.deleteContents();
        lastRange.insertNode(node);
      } else {
        (lastField.querySelector("p:last-child") || lastField).appendChild(node);
      }
      var after = document.createRange();
      after.setStartAfter(node);
      after.collapse(true);
      lastField.focus();
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(after);
      lastRange = after.cloneRange();
    } else {
      lastField.focus();
      var start = lastField.selectionStart || 0;
      var end = lastField.selectionEnd || 0;
      lastField.setRangeText(text, start, end, "end");
    }
    lastField.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  }

  function picker() {
    var select = el("select", { id: "dsg-variable", "aria-label": "Field to insert" });
    var groups = {};
    config.fields.forEach(function (field) {
      if (!groups[field.group]) {
        groups[field.group] = el("optgroup", { label: field.group });
        select.appendChild(groups[field.group]);
      }
      groups[field.group].appendChild(el("option", { value: field.variable, text: field.label + " (" + field.variable + ")" }));
    });
    var fallback = el("input", { type: "text", id: "dsg-fallback", placeholder: "e.g. there", size: 12 });
    var status = el("span", { class: "dsg-hint", role: "status" });
    var insert = el("button", {
      type: "button",
      text: "Insert",
      onclick: function () {
        var done = insertAtCursor(expression(select.value, fallback.value.trim()));
        status.textContent = done ? "Inserted." : "Click into a text field of a block first.";
      },
    });
    return el("div", { class: "dsg-picker", role: "group", "aria-label": "Personalise" }, [
      el("strong", { text: "Personalise: " }),
      select,
      el("label", { for: "dsg-fallback", text: " if empty, show " }),
      fallback,
      " ",
      insert,
      " ",
      status,
    ]);
  }

  // --- Block editors --------------------------------------------------------------------------

  function input(block, key, text, attrs) {
    var id = uid(key);
    var field = el("input", Object.assign({ type: "text", id: id, value: block[key] || "" }, attrs || {}));
    field.addEventListener("input", function () {
      block[key] = field.type === "number" ? parseInt(field.value || "0", 10) || 0 : field.value;
      changed();
    });
    return el("div", { class: "dsg-field" }, [el("label", { for: id, text: text }), field]);
  }

  function select(block, key, text, options) {
    var id = uid(key);
    var field = el(
      "select",
      { id: id },
      options.map(function (option) {
        return el("option", { value: option[0], text: option[1], selected: String(block[key]) === String(option[0]) });
      })
    );
    field.addEventListener("change", function () {
      block[key] = typeof block[key] === "number" ? parseInt(field.value, 10) : field.value;
      changed();
    });
    return el("div", { class: "dsg-field" }, [el("label", { for: id, text: text }), field]);
  }

  var ALIGN = [["left", "Left"], ["center", "Centre"], ["right", "Right"]];

  function richText(block) {
    var area = el("div", { class: "dsg-richtext", contenteditable: "true", role: "textbox", "aria-multiline": "true", "aria-label": "Text" });
    area.innerHTML = block.html || "";
    area.addEventListener("input", function () {
      block.html = area.innerHTML;
      changed();
    });
    function command(name, text, argument) {
      return el("button", {
        type: "button",
        text: text,
        "aria-label": name === "createLink" ? "Link" : text,
        onmousedown: function (event) {
          event.preventDefault(); // keep the text's selection
        },
        onclick: function () {
          area.focus();
          var value = argument;
          if (name === "createLink") {
            value = window.prompt("Link address (https://…)", "https://");
            if (!value) return;
          }
          document.execCommand(name, false, value);
          block.html = area.innerHTML;
          changed();
        },
      });
    }
    var toolbar = el("div", { class: "dsg-toolbar", role: "toolbar", "aria-label": "Text formatting" }, [
      command("bold", "Bold"),
      command("italic", "Italic"),
      command("createLink", "Link…"),
      command("insertUnorderedList", "• List"),
      command("insertOrderedList", "1. List"),
    ]);
    return el("div", {}, [toolbar, area]);
  }

  function upload(block, srcInput) {
    var id = uid("upload");
    var file = el("input", { type: "file", id: id, accept: "image/png,image/jpeg,image/gif,image/webp" });
    var status = el("span", { class: "dsg-hint", role: "status" });
    file.addEventListener("change", function () {
      if (!file.files.length) return;
      var data = new FormData();
      data.append("image", file.files[0]);
      status.textContent = "Uploading…";
      fetch(config.imageUploadUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() }, body: data })
        .then(function (response) {
          return response.json();
        })
        .then(function (answer) {
          if (answer.error) {
            status.textContent = answer.error;
            return;
          }
          block.src = answer.url;
          srcInput.value = answer.url;
          status.textContent = "Uploaded.";
          changed();
        })
        .catch(function () {
          status.textContent = "The upload failed.";
        });
    });
    return el("div", { class: "dsg-field" }, [el("label", { for: id, text: "…or upload an image (PNG, JPEG, GIF, WebP; 2 MB at most)" }), file, " ", status]);
  }

  var EDITORS = {
    heading: function (block) {
      return [
        input(block, "text", "Heading", { class: "dsg-heading-input" }),
        select(block, "level", "Size", [[1, "Large"], [2, "Medium"], [3, "Small"]]),
        select(block, "align", "Align", ALIGN),
      ];
    },
    text: function (block) {
      return [richText(block)];
    },
    image: function (block) {
      var src = input(block, "src", "Image address (https://…)", { type: "url" });
      return [
        src,
        upload(block, src.querySelector("input")),
        input(block, "alt", "Alt text (required: read aloud, shown when images are off)"),
        input(block, "href", "Link (optional)", { type: "url" }),
        input(block, "width", "Width in pixels (0: full width)", { type: "number", min: 0, max: 800 }),
      ];
    },
    button: function (block) {
      return [
        input(block, "label", "Label"),
        input(block, "href", "Link (https://…)", { type: "url" }),
        input(block, "background", "Background colour (empty: the brand's)", { placeholder: "#1a73e8" }),
        input(block, "color", "Text colour (empty: white)", { placeholder: "#ffffff" }),
        select(block, "align", "Align", ALIGN),
      ];
    },
    divider: function () {
      return [el("p", { class: "dsg-hint", text: "A thin line between blocks." })];
    },
    spacer: function (block) {
      return [input(block, "height", "Height in pixels", { type: "number", min: 4, max: 200 })];
    },
    social: function (block) {
      block.links = block.links || {};
      return Object.keys(NETWORKS).map(function (network) {
        return input(block.links, network, NETWORKS[network] + " page (empty: not shown)", { type: "url" });
      });
    },
    footer: function (block) {
      var id = uid("footer");
      var area = el("textarea", { id: id, rows: 2 });
      area.value = block.text || "";
      area.addEventListener("input", function () {
        block.text = area.value;
        changed();
      });
      return [
        el("div", { class: "dsg-field" }, [el("label", { for: id, text: "Sender and address" }), area]),
        input(block, "unsubscribe_label", "Unsubscribe link text"),
        el("p", { class: "dsg-hint", text: "A commercial email always shows the unsubscribe link here." }),
      ];
    },
    columns: function (block) {
      return [
        el(
          "div",
          { class: "dsg-columns" },
          block.columns.map(function (column, i) {
            return el("div", { class: "dsg-column", role: "group", "aria-label": "Column " + (i + 1) }, [
              el("p", { class: "dsg-column-title", text: "Column " + (i + 1) }),
              blockList(column.blocks, NESTABLE, "column " + (i + 1)),
            ]);
          })
        ),
      ];
    },
  };

  // --- Lists of blocks: cards with move, drag and remove ---------------------------------------

  function blockList(blocks, allowed, where) {
    var list = el("ol", { class: "dsg-blocks", "aria-label": "Blocks in " + where });

    function rebuild(focusIndex, focusSelector) {
      var fresh = blockList(blocks, allowed, where);
      list.replaceWith(fresh);
      if (focusIndex !== undefined) {
        var card = fresh.children[focusIndex];
        // Keep focus on the button pressed, so pressing it again moves the block further.
        var target =
          card &&
          (card.querySelector((focusSelector ? focusSelector + ":not(:disabled), " : "") + "input, textarea, [contenteditable=true], select") || card);
        if (target) target.focus();
      }
      changed();
    }

    blocks.forEach(function (block, index) {
      var name = label(block.type);
      var move = function (delta, which) {
        return function () {
          var to = index + delta;
          if (to < 0 || to >= blocks.length) return;
          blocks.splice(to, 0, blocks.splice(index, 1)[0]);
          rebuild(to, "button.dsg-" + which);
        };
      };
      var card = el(
        "li",
        { class: "dsg-block dsg-block-" + block.type, draggable: "true", "data-index": index, tabindex: "-1" },
        [
          el("div", { class: "dsg-block-head" }, [
            el("span", { class: "dsg-handle", "aria-hidden": "true", title: "Drag to move", text: "⠿" }),
            el("strong", { text: name }),
            el("span", { class: "dsg-actions" }, [
              el("button", { type: "button", class: "dsg-up", text: "↑", "aria-label": "Move " + name + " up", disabled: index === 0, onclick: move(-1, "up") }),
              el("button", {
                type: "button",
                class: "dsg-down",
                text: "↓",
                "aria-label": "Move " + name + " down",
                disabled: index === blocks.length - 1,
                onclick: move(1, "down"),
              }),
              el("button", {
                type: "button",
                class: "dsg-remove",
                text: "Remove",
                "aria-label": "Remove " + name,
                onclick: function () {
                  blocks.splice(index, 1);
                  rebuild(Math.min(index, blocks.length - 1));
                },
              }),
            ]),
          ]),
          el("div", { class: "dsg-block-body" }, EDITORS[block.type] ? EDITORS[block.type](block) : []),
        ]
      );
      card.addEventListener("dragstart", function (event) {
        if (event.target !== card) return;
        dragged = { blocks: blocks, index: index };
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", String(index));
        event.stopPropagation();
      });
      card.addEventListener("dragover", function (event) {
        if (dragged && dragged.blocks === blocks) {
          event.preventDefault();
          event.stopPropagation();
          card.classList.add("dsg-drop");
        }
      });
      card.addEventListener("dragleave", function () {
        card.classList.remove("dsg-drop");
      });
      card.addEventListener("drop", function (event) {
        card.classList.remove("dsg-drop");
        if (!dragged || dragged.blocks !== blocks) return;
        event.preventDefault();
        event.stopPropagation();
        var from = dragged.index;
        dragged = null;
        blocks.splice(index, 0, blocks.splice(from, 1)[0]);
        rebuild(index);
      });
      list.appendChild(card);
    });

    var add = el("li", { class: "dsg-add" }, [
      el("span", { text: "Add: " }),
    ].concat(
      allowed.map(function (type) {
        return el("button", {
          type: "button",
          class: "dsg-add-" + type,
          text: "+ " + label(type),
          "aria-label": "Add " + label(type) + " to " + where,
          onclick: function () {
            blocks.push(copy(config.blocks[type].default));
            rebuild(blocks.length - 1);
          },
        });
      })
    ));
    list.appendChild(add);
    return list;
  }

  // --- The page -----------------------------------------------------------------------------

  function viewButton(text, pressed, apply) {
    var button = el("button", { type: "button", text: text, "aria-pressed": pressed ? "true" : "false" });
    button.addEventListener("click", function () {
      apply();
      button.parentNode.querySelectorAll("button").forEach(function (other) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      });
      showPreview();
    });
    return button;
  }

  previewFrame = el("iframe", { sandbox: "", title: "Email preview", class: "dsg-frame" });
  previewSubject = el("span", { class: "dsg-subject" });
  previewProblems = el("ul", { class: "dsg-problems", "aria-label": "Check content" });
  previewStatus = el("p", { class: "dsg-hint", role: "status" });

  var editor = el("section", { id: "email-designer", class: "dsg", "aria-label": "Email designer" }, [
    el("div", { class: "dsg-editor" }, [
      el("h2", { text: "Designer" }),
      picker(),
      blockList(design.blocks, Object.keys(config.blocks), "the email"),
    ]),
    el("div", { class: "dsg-preview" }, [
      el("h2", { text: "Preview" }),
      el("div", { class: "dsg-views" }, [
        el("span", { role: "group", "aria-label": "Width" }, [
          viewButton("Desktop (600 px)", true, function () {
            view.width = 600;
          }),
          viewButton("Phone (375 px)", false, function () {
            view.width = 375;
          }),
        ]),
        " ",
        el("span", { role: "group", "aria-label": "Colours" }, [
          viewButton("Light", true, function () {
            view.dark = false;
          }),
          viewButton("Dark", false, function () {
            view.dark = true;
          }),
        ]),
      ]),
      el("p", {}, [el("strong", { text: "Subject: " }), previewSubject]),
      previewFrame,
      el("h3", { text: "Check content" }),
      previewProblems,
      previewStatus,
    ]),
  ]);
  editor.addEventListener("focusin", remember);
  document.addEventListener("selectionchange", function () {
    if (lastField && lastField.isContentEditable) rememberRange();
  });

  // The JSON and the no-script block form stay in the page (and in the POST), out of sight.
  ["design", "add_block"].forEach(function (name) {
    var row = document.querySelector(".field-" + name);
    if (row) row.hidden = true;
  });
  var fieldset = textarea.closest("fieldset");
  fieldset.parentNode.insertBefore(editor, fieldset);

  var custom = document.getElementById("id_custom_text");
  var text = document.getElementById("id_text_body");
  function textMode() {
    if (custom && text) text.readOnly = !custom.checked;
  }
  if (custom) custom.addEventListener("change", textMode);
  textMode();
  ["id_subject", "id_preheader"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field) field.addEventListener("input", changed);
  });
  changed();
})();
