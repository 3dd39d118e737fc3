(function () {
  "use strict";
  if (window.customElements.get("kat-button")) {
    return;
  }

  function styleTag(text) {
    var s = document.createElement("style");
    s.textContent = text;
    return s;
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  var BUTTON_CSS = ":host{display:inline-block}" +
    "button{font:inherit;padding:6px 16px;border-radius:4px;border:1px solid #008296;" +
    "background:#008296;color:#fff;cursor:pointer}" +
    "button[disabled]{background:#ccc;border-color:#bbb;color:#666;cursor:not-allowed}";

  class KatButton extends HTMLElement {
    static get observedAttributes() {
      return ["label", "disabled"];
    }

    connectedCallback() {
      this.render();
    }

    attributeChangedCallback() {
      this.render();
    }

    render() {
      var root = this.shadowRoot;
      if (!root) {
        root = this.attachShadow({ mode: "open" });
        root.appendChild(styleTag(BUTTON_CSS));
        var created = make("button");
        created.type = "button";
        created.setAttribute("part", "button");
        created.addEventListener("click", this.activate.bind(this));
        root.appendChild(created);
      }
      var button = root.querySelector("button");
      button.textContent = this.getAttribute("label") || "";
      button.disabled = this.hasAttribute("disabled");
    }

    activate() {
      var href = this.getAttribute("href");
      if (href && !this.hasAttribute("disabled")) {
        window.location.assign(href);
      }
    }
  }

  var CARD_CSS = ":host{display:block;border:1px solid #d5d9d9;border-radius:8px;padding:12px;" +
    "background:#fff;min-height:120px}" +
    ".tile-title{margin:0 0 4px;font-size:15px}.tile-subtitle{color:#565959;font-size:12px}" +
    ".tile-value,.tile-status{display:inline-block;font-size:28px;font-weight:bold;margin:6px 0}" +
    ".tile-status{font-size:20px;padding:2px 10px;border-radius:12px}" +
    ".green{background:#d6f5d6;color:#0a6b0a}.yellow{background:#fff3c4;color:#7a5a00}" +
    ".red{background:#fbd6d6;color:#a00}" +
    ".tile-caption,.tile-line{font-size:13px;color:#333}.tile-link{display:block;margin-top:6px}";

  class KatCard extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) {
        return;
      }
      var root = this.attachShadow({ mode: "open" });
      var attr = this.getAttribute.bind(this);
      root.appendChild(styleTag(CARD_CSS));
      var card = make("div", "card");
      if (attr("heading")) {
        card.appendChild(make("h3", "tile-title", attr("heading")));
      }
      if (attr("subheading")) {
        card.appendChild(make("div", "tile-subtitle", attr("subheading")));
      }
      if (attr("value") !== null) {
        var cls = attr("value-class") || "tile-value";
        if (attr("stoplight")) {
          cls += " stoplight " + attr("stoplight");
        }
        var value = make("span", cls, attr("value"));
        if (attr("value-test")) {
          value.setAttribute("data-test", attr("value-test"));
        }
        var main = make("div", "tile-main");
        main.appendChild(value);
        card.appendChild(main);
      }
      if (attr("caption")) {
        card.appendChild(make("div", "tile-caption", attr("caption")));
      }
      var lines = [];
      try {
        lines = JSON.parse(attr("lines") || "[]");
      } catch (err) {
        lines = [];
      }
      lines.forEach(function (line) {
        if (typeof line === "string") {
          card.appendChild(make("div", "tile-line", line));
          return;
        }
        // A labelled figure, e.g. the Open Orders breakdown: "FBM Unshipped: 12".
        var row = make("div", "tile-line");
        if (line.test) {
          row.setAttribute("data-test", line.test);
        }
        row.appendChild(make("span", "tile-line-label", line.label));
        row.appendChild(document.createTextNode(" "));
        row.appendChild(make("span", "tile-line-value", line.value));
        card.appendChild(row);
      });
      if (attr("link-href")) {
        var link = make("a", "tile-link", attr("link-label") || "View");
        link.href = attr("link-href");
        card.appendChild(link);
      }
      if (attr("button-label")) {
        var button = document.createElement("kat-button");
        button.setAttribute("label", attr("button-label"));
        if (attr("button-test")) {
          button.setAttribute("data-test", attr("button-test"));
        }
        if (attr("button-href")) {
          button.setAttribute("href", attr("button-href"));
        }
        card.appendChild(button);
      }
      root.appendChild(card);
    }
  }

  var PANEL_CSS = ":host{display:block;border:1px solid #d5d9d9;border-radius:8px;" +
    "padding:8px 12px;margin:12px 0;background:#fff}" +
    ".panel-heading{font-size:18px;margin:4px 0 8px}" +
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;" +
    "border-bottom:1px solid #eee}.status-good{color:#0a6b0a}.status-fair{color:#7a5a00}" +
    ".status-poor{color:#a00;font-weight:bold}";

  class KatPanel extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) {
        return;
      }
      var root = this.attachShadow({ mode: "open" });
      root.appendChild(styleTag(PANEL_CSS));
      if (this.getAttribute("label")) {
        root.appendChild(make("h2", "panel-heading", this.getAttribute("label")));
      }
      var template = this.querySelector(":scope > template");
      if (template) {
        root.appendChild(template.content.cloneNode(true));
      }
    }
  }

  window.customElements.define("kat-button", KatButton);
  window.customElements.define("kat-card", KatCard);
  window.customElements.define("kat-panel", KatPanel);
})();
