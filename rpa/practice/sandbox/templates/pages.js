(function () {
  "use strict";

  // A page whose content mounts late, as a single-page app's does: each
  // <template class="sc-late" data-after-ms="N"> is replaced by its content N ms after
  // the page (or the content around it) showed. Nested ones count from their own mount.
  function mount(root) {
    var late = root.querySelectorAll("template.sc-late:not([data-scheduled])");
    Array.prototype.forEach.call(late, function (template) {
      template.setAttribute("data-scheduled", "");
      var parent = template.parentNode;
      var wait = Number(template.getAttribute("data-after-ms")) || 0;
      window.setTimeout(function () {
        template.replaceWith(template.content.cloneNode(true));
        mount(parent);
      }, wait);
    });
  }

  // Katal's badge: its words are drawn inside its shadow root, from its label attribute
  // (scripts on the real page read the attribute for that reason).
  var BADGE_CSS = ":host{display:inline-block;padding:1px 8px;border-radius:10px;" +
    "font-size:12px;background:#eee}:host([type=success]){background:#d6f5d6}" +
    ":host([type=warning]){background:#fff3c4}:host([type=error]){background:#fbd6d6}";

  if (!window.customElements.get("kat-badge")) {
    class KatBadge extends HTMLElement {
      static get observedAttributes() {
        return ["label"];
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
          var style = document.createElement("style");
          style.textContent = BADGE_CSS;
          root.appendChild(style);
          root.appendChild(document.createElement("span"));
        }
        root.querySelector("span").textContent = this.getAttribute("label") || "";
      }
    }
    window.customElements.define("kat-badge", KatBadge);
  }

  mount(document);
})();
