(function () {
  "use strict";
  // Messaging v3 as public code describes it: an app drawn inside components with open
  // shadow roots (a plain document walk sees only the navigation), a two-pane layout whose
  // list pane renders only in a wide window, left-nav filters and a "Response needed N"
  // card. Send and "No response needed" are requests of the app: the page stays, and the
  // address changes only by pushState.
  if (window.customElements.get("bsm-app")) {
    return;
  }
  var ENTERED = "bsm-entered"; // this tab has had the app mounted
  var SEND_FAILED = "There was a problem sending your message. Please try again.";
  var ACTION_FAILED = "Something went wrong. Please try again.";
  var make = window.BsmParts.make;
  var styled = window.BsmParts.styled;
  var later = window.BsmParts.later;

  var APP_CSS = ":host{display:block}" +
    ".bsm-layout{display:flex;gap:16px;align-items:flex-start}" +
    ".bsm-nav{flex:0 0 200px}.bsm-nav a{display:block;padding:6px 8px;color:#0f1111}" +
    ".bsm-nav a[aria-current=page]{font-weight:bold;background:#eef7f8}" +
    ".bsm-metrics{border:1px solid #d5d9d9;border-radius:8px;padding:8px;margin-bottom:12px}" +
    ".bsm-metric-value{font-size:22px;font-weight:bold;display:block}" +
    ".bsm-list{flex:1 1 auto;min-width:0}.bsm-thread-pane{flex:0 0 600px;min-width:0}" +
    ".bsm-pager{display:flex;gap:12px;align-items:center;margin:10px 0}" +
    ".message-list{list-style:none;padding:0}" +
    ".message{background:#fff;border:1px solid #e3e6e6;border-radius:6px;padding:8px 12px;" +
    "margin:8px 0}.message.seller{margin-left:40px;background:#eef7f8}" +
    ".message-header{color:#565959;font-size:12px}.message-body{white-space:pre-wrap;" +
    "margin-top:4px}.bsm-flash{background:#e6f4e6;border:1px solid #0a6b0a;padding:8px}" +
    ".bsm-error{background:#fdecec;border:1px solid #a00;padding:8px}" +
    ".bsm-actions{display:flex;gap:8px;margin-top:8px}";

  class BsmApp extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) {
        return;
      }
      this.cfg = JSON.parse(this.getAttribute("data-config") || "{}");
      this.viewNames = {};
      this.cfg.views.forEach(function (pair) { this.viewNames[pair[0]] = pair[1]; }, this);
      var root = this.attachShadow({ mode: "open" });
      if (!this.mayMount()) {
        return; // unmounted: Seller Central's navigation is all the page shows
      }
      try {
        window.sessionStorage.setItem(ENTERED, "1");
      } catch (err) { /* storage refused: the next deep link stays cold */ }
      this.view = this.cfg.view;
      this.page = parseInt(this.cfg.page, 10) || 1;
      this.search = this.cfg.search || "";
      this.threadId = this.cfg.thread;
      this.list = null;
      this.listError = null;
      this.thread = null;
      this.needed = null;
      this.flash = null;
      this.error = null;
      this.draft = "";
      this.busy = false;
      this.paintAt = Date.now() + (this.cfg.render_ms || 0); // a slow first paint
      this.listSeq = 0;
      this.threadSeq = 0;
      styled(root, APP_CSS);
      var layout = make("div", { "class": "bsm-layout" });
      this.nav = make("nav", { "class": "bsm-nav", "aria-label": "Messaging" });
      this.listPane = make("div", { "class": "bsm-list" });
      this.threadPane = make("div", { "class": "bsm-thread-pane" });
      layout.appendChild(this.nav);
      layout.appendChild(this.listPane);
      layout.appendChild(this.threadPane);
      root.appendChild(layout);
      var self = this;
      root.addEventListener("bsm-open", function (ev) { self.openThread(ev.detail, true); });
      window.addEventListener("resize", function () { self.drawList(); });
      window.addEventListener("popstate", function () { self.fromAddress(); });
      this.drawNav();
      this.loadList();
      if (this.threadId) {
        this.loadThread();
      }
    }

    // Mounted after a Seller Central page's own link, or once the tab has had the app;
    // a cold deep link leaves it unmounted.
    mayMount() {
      if (!this.cfg.cold_deep_link) {
        return true;
      }
      try {
        if (window.sessionStorage.getItem(ENTERED)) {
          return true;
        }
      } catch (err) { /* no storage: decided by the referrer alone */ }
      try {
        return !!document.referrer &&
          new URL(document.referrer).origin === window.location.origin;
      } catch (err) {
        return false;
      }
    }

    threadPath(id) {
      return this.cfg.thread_path.replace("{thread_id}", encodeURIComponent(id));
    }

    inboxAddress() {
      var params = new URLSearchParams();
      params.set("fi", this.view);
      if (this.view === "search") {
        params.set("ss", this.search);
      }
      if (this.page > 1) {
        params.set("page", String(this.page));
      }
      return this.cfg.inbox_path + "?" + params.toString();
    }

    // JSON from the sandbox; a signed-out answer sends the page itself through sign-in.
    request(url, options) {
      var opts = options || {};
      opts.headers = { "Accept": "application/json" };
      opts.credentials = "same-origin";
      return fetch(url, opts).then(function (resp) {
        if (resp.redirected && new URL(resp.url).pathname.indexOf("/ap/") === 0) {
          window.location.reload();
          return new Promise(function () {});
        }
        var type = resp.headers.get("content-type") || "";
        if (type.indexOf("application/json") < 0) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.json().then(function (data) {
          if (!resp.ok) {
            var err = new Error(data.error || ("HTTP " + resp.status));
            err.userMessage = data.error;
            throw err;
          }
          return data;
        });
      });
    }

    firstPaint() {
      return later(Math.max(0, this.paintAt - Date.now()));
    }

    // --- the left nav and its card ---------------------------------------------------
    drawNav() {
      var self = this;
      this.nav.textContent = "";
      var card = make("div", { "class": "bsm-metrics", role: "group", "aria-label": "Metrics" });
      card.appendChild(make("span", { "class": "bsm-metric-label" }, "Response needed"));
      card.appendChild(make("span", { "class": "bsm-metric-value" },
        this.needed === null ? "…" : String(this.needed)));
      this.nav.appendChild(card);
      this.cfg.views.forEach(function (pair) {
        var key = pair[0];
        var attrs = { href: self.cfg.inbox_path + "?fi=" + key };
        if (key === self.view && !self.threadId) {
          attrs["aria-current"] = "page";
        }
        var link = make("a", attrs, pair[1]);
        link.addEventListener("click", function (ev) {
          ev.preventDefault();
          self.setView(key);
        });
        self.nav.appendChild(link);
      });
    }

    setView(key) {
      this.view = key;
      this.page = 1;
      this.threadId = null;
      this.thread = null;
      window.history.pushState(null, "", this.inboxAddress());
      this.drawNav();
      this.drawThread();
      this.loadList();
    }

    // --- the list pane ---------------------------------------------------------------
    loadList() {
      var self = this;
      var seq = ++this.listSeq;
      this.list = null;
      this.listError = null;
      this.drawList();
      var params = new URLSearchParams();
      params.set("fi", this.view);
      params.set("ss", this.search);
      params.set("page", String(this.page));
      this.request(this.cfg.api + "/threads?" + params.toString()).then(function (data) {
        return self.firstPaint().then(function () { return data; });
      }).then(function (data) {
        if (seq !== self.listSeq) {
          return;
        }
        self.list = data;
        self.page = data.page;
        self.needed = data.needed;
        self.drawNav();
        self.drawList();
        if (!self.threadId && !self.cfg.has_view) {
          // the view's query is added once the app has drawn it
          self.cfg.has_view = true;
          window.history.replaceState(null, "", self.inboxAddress());
        }
      }).catch(function () {
        if (seq === self.listSeq) {
          self.listError = ACTION_FAILED;
          self.drawList();
        }
      });
    }

    drawList() {
      var self = this;
      var pane = this.listPane;
      pane.textContent = "";
      if (window.innerWidth < this.cfg.min_width) {
        pane.hidden = true; // too narrow for the list pane
        return;
      }
      pane.hidden = false;
      pane.appendChild(make("h2", {}, this.viewNames[this.view] || "Search results"));
      if (this.listError) {
        pane.appendChild(make("p", { role: "alert", "class": "bsm-error" }, this.listError));
        return;
      }
      if (this.list === null) {
        pane.appendChild(make("div", { role: "progressbar", "aria-label": "Loading messages" },
          "Loading…"));
        return;
      }
      if (!this.list.rows.length) {
        pane.appendChild(make("p", { "class": "bsm-empty" }, this.view === "responseNeeded"
          ? "No messages need a response." : "No messages in this view."));
        return;
      }
      var table = make("kat-table", { "aria-label": "Messages" });
      var body = make("kat-table-body", {});
      this.list.rows.forEach(function (data) {
        var row = make("kat-table-row", { "data-thread-id": data.id });
        row.row = Object.assign({ href: self.threadPath(data.id) }, data);
        body.appendChild(row);
      });
      table.appendChild(body);
      pane.appendChild(table);
      var pager = make("div", { "class": "bsm-pager" });
      pager.appendChild(make("span", { "class": "bsm-range" },
        this.list.first + "–" + this.list.last + " of " + this.list.total));
      var prev = make("button", { type: "button" }, "Previous");
      prev.disabled = this.list.page <= 1;
      prev.addEventListener("click", function () { self.turn(-1); });
      var next = make("button", { type: "button" }, "Next");
      next.disabled = this.list.page >= this.list.pages;
      next.addEventListener("click", function () { self.turn(1); });
      pager.appendChild(prev);
      pager.appendChild(next);
      pane.appendChild(pager);
    }

    turn(by) {
      this.page += by;
      if (!this.threadId) {
        window.history.pushState(null, "", this.inboxAddress());
      }
      this.loadList();
    }

    // --- the open thread -------------------------------------------------------------
    openThread(id, push) {
      this.threadId = id;
      this.thread = null;
      this.flash = null;
      this.error = null;
      this.draft = "";
      if (push) {
        window.history.pushState(null, "", this.threadPath(id));
      }
      this.drawNav();
      this.drawThread();
      this.loadThread();
    }

    loadThread() {
      var self = this;
      var seq = ++this.threadSeq;
      var id = this.threadId;
      this.drawThread();
      this.request(this.cfg.api + "/thread/" + encodeURIComponent(id)).then(function (data) {
        return self.firstPaint().then(function () { return data; });
      }).then(function (data) {
        if (seq === self.threadSeq) {
          self.thread = data.thread;
          self.needed = data.needed;
          self.drawNav();
          self.drawThread();
        }
      }).catch(function () {
        if (seq === self.threadSeq) {
          self.error = ACTION_FAILED;
          self.drawThread();
        }
      });
    }

    drawThread() {
      var self = this;
      var pane = this.threadPane;
      var old = pane.querySelector("kat-textarea");
      if (old) {
        this.draft = old.value;
      }
      pane.textContent = "";
      if (!this.threadId) {
        pane.hidden = true;
        return;
      }
      pane.hidden = false;
      if (this.thread === null) {
        pane.appendChild(make("div", { role: this.error ? "alert" : "progressbar",
          "aria-label": "Loading the conversation" }, this.error || "Loading…"));
        return;
      }
      var t = this.thread;
      var section = make("section", { "class": "bsm-thread", "aria-label": "Conversation" });
      section.appendChild(make("h2", { "class": "thread-subject" }, t.subject));
      var meta = make("p", { "class": "thread-meta" }, "From ");
      meta.appendChild(make("span", { "class": "thread-buyername" }, t.buyer));
      meta.appendChild(document.createTextNode(" · Order "));
      meta.appendChild(make("span", { "class": "thread-order-id" }, t.order_id));
      meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(make("span", { "class": "case-status-label" }, t.status_label));
      section.appendChild(meta);
      if (this.flash) {
        section.appendChild(make("div", { role: "status", "class": "bsm-flash" }, this.flash));
      }
      if (this.error) {
        section.appendChild(make("div", { role: "alert", "class": "bsm-error" }, this.error));
      }
      var messages = make("ul", { "class": "message-list", "aria-label": "Messages" });
      t.messages.forEach(function (m) {
        var seller = m.from === "seller";
        var item = make("li", { "class": "message" + (seller ? " seller" : ""),
          "aria-label": seller ? "Your message" : "Message from " + t.buyer });
        var head = make("div", { "class": "message-header" });
        head.appendChild(make("span", { "class": "message-sender" }, seller ? "You" : t.buyer));
        head.appendChild(document.createTextNode(" · "));
        head.appendChild(make("time", { "class": "message-time", datetime: m.at }, m.at));
        item.appendChild(head);
        item.appendChild(make("div", { "class": "message-body" }, m.text));
        messages.appendChild(item);
      });
      section.appendChild(messages);
      var box = make("kat-textarea", { label: "Reply", maxlength: "4000" });
      box.value = this.draft;
      section.appendChild(box);
      var actions = make("div", { "class": "bsm-actions" });
      var send = make("kat-button", { label: "Send" });
      send.addEventListener("click", function () { self.act("reply", box.value); });
      var close = make("kat-button", { label: this.cfg.no_response_label });
      close.addEventListener("click", function () { self.act("no-response-needed", null); });
      if (this.busy) {
        send.setAttribute("disabled", "");
        close.setAttribute("disabled", "");
      }
      actions.appendChild(send);
      actions.appendChild(close);
      section.appendChild(actions);
      pane.appendChild(section);
    }

    // Send or "No response needed": one request; the thread is drawn again from its answer.
    act(action, text) {
      var self = this;
      if (this.busy || !this.thread) {
        return;
      }
      var id = this.threadId;
      var body = new URLSearchParams();
      if (text !== null) {
        body.set("text", text);
        this.draft = text;
      }
      this.busy = true;
      this.flash = null;
      this.error = null;
      this.drawThread();
      this.request(this.threadPath(id) + "/" + action, { method: "POST", body: body })
        .then(function (data) {
          self.busy = false;
          if (id !== self.threadId) {
            return;
          }
          self.thread = data.thread;
          self.needed = data.needed;
          self.flash = data.flash;
          if (text !== null) {
            self.draft = "";
            var box = self.threadPane.querySelector("kat-textarea");
            if (box) {
              box.value = "";
            }
          }
          self.drawNav();
          self.drawThread();
          if (self.list !== null) {
            self.loadList();
          }
        }).catch(function (err) {
          self.busy = false;
          self.error = err.userMessage || (text !== null ? SEND_FAILED : ACTION_FAILED);
          self.drawThread();
        });
    }

    // Back and forward within the app.
    fromAddress() {
      var path = window.location.pathname;
      var prefix = this.cfg.thread_path.split("{thread_id}")[0];
      var params = new URLSearchParams(window.location.search);
      if (path.indexOf(prefix) === 0) {
        this.openThread(decodeURIComponent(path.slice(prefix.length)), false);
        return;
      }
      this.threadId = null;
      this.thread = null;
      this.view = params.get("fi") || "responseNeeded";
      this.page = parseInt(params.get("page") || "1", 10) || 1;
      this.drawNav();
      this.drawThread();
      this.loadList();
    }
  }

  window.customElements.define("bsm-app", BsmApp);
})();
