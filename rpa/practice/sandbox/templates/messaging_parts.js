(function () {
  "use strict";
  // The parts of messaging v3 besides the app itself (messaging.js): small Katal-like
  // components with open shadow roots, and the helpers both files use.
  if (window.BsmParts) {
    return;
  }

  function make(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function styled(root, css) {
    root.appendChild(make("style", {}, css));
  }

  function later(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  // A labelled text area; its value is the host's.
  class KatTextarea extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) {
        return;
      }
      var root = this.attachShadow({ mode: "open" });
      styled(root, ":host{display:block}label{display:block;font-weight:bold;margin:8px 0 4px}" +
        "textarea{width:100%;box-sizing:border-box;font:inherit;padding:6px}");
      root.appendChild(make("label", { "for": "field" }, this.getAttribute("label") || ""));
      var area = make("textarea", { id: "field", rows: "5",
        maxlength: this.getAttribute("maxlength") || "4000" });
      area.value = this._value || "";
      root.appendChild(area);
    }

    get value() {
      return this.shadowRoot ? this.shadowRoot.getElementById("field").value : (this._value || "");
    }

    set value(text) {
      this._value = text;
      if (this.shadowRoot) {
        this.shadowRoot.getElementById("field").value = text;
      }
    }
  }

  // One thread in the list, its cells in a shadow root of its own.
  class KatTableRow extends HTMLElement {
    connectedCallback() {
      this.setAttribute("role", "row");
      this.draw();
    }

    set row(data) {
      this._row = data;
      this.draw();
    }

    draw() {
      var data = this._row;
      if (!data || !this.isConnected) {
        return;
      }
      var root = this.shadowRoot || this.attachShadow({ mode: "open" });
      root.textContent = "";
      styled(root, ":host{display:grid;grid-template-columns:160px 1fr 170px 150px 150px;" +
        "gap:8px;padding:8px;border-bottom:1px solid #e3e6e6}" +
        ".snippet{color:#565959;font-size:12px}.case-status-label{font-size:12px}");
      var self = this;
      var link = make("a", { href: data.href, "class": "thread-link" }, data.subject);
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        self.dispatchEvent(new CustomEvent("bsm-open", { detail: data.id, bubbles: true,
          composed: true }));
      });
      var subject = make("kat-table-cell", { role: "cell", "class": "subject" });
      subject.appendChild(link);
      subject.appendChild(make("div", { "class": "snippet" }, data.snippet));
      root.appendChild(make("kat-table-cell", { role: "cell", "class": "buyer-name" }, data.buyer));
      root.appendChild(subject);
      root.appendChild(make("kat-table-cell", { role: "cell", "class": "order-id" }, data.order_id));
      var when = make("kat-table-cell", { role: "cell", "class": "received" });
      when.appendChild(make("time", { datetime: data.received }, data.received_text));
      root.appendChild(when);
      var status = make("kat-table-cell", { role: "cell" });
      status.appendChild(make("span", { "class": "case-status-label" }, data.status_label));
      root.appendChild(status);
    }
  }

  window.BsmParts = { make: make, styled: styled, later: later };
  if (!window.customElements.get("kat-textarea")) {
    window.customElements.define("kat-textarea", KatTextarea);
  }
  if (!window.customElements.get("kat-table-row")) {
    window.customElements.define("kat-table-row", KatTableRow);
  }
})();
