// Run now: keeps a job page's steps current by polling its steps.json.
// Progressive enhancement only: without this script the page shows a "refresh" link.
// Everything from the server is put in as text (textContent), never as HTML.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.getAttribute("data-state") !== "running") {
    return;
  }
  var url = "/run/" + encodeURIComponent(box.getAttribute("data-job")) + "/steps.json";
  var POLL_MS = 1000;

  function span(cls, text) {
    var el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function showSteps(steps) {
    var list = document.getElementById("steps");
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    steps.forEach(function (s) {
      var li = document.createElement("li");
      li.className = "outcome-" + s.outcome;
      li.appendChild(span("flow", s.flow));
      li.appendChild(document.createTextNode(": "));
      li.appendChild(span("name", s.name));
      li.appendChild(document.createTextNode(" — "));
      li.appendChild(span("outcome", s.outcome));
      if (s.outcome !== "running") {
        li.appendChild(document.createTextNode(" (" + s.seconds + " s)"));
      }
      list.appendChild(li);
    });
  }

  function showEnd(job) {
    var state = "ended: " + job.status;
    if (job.exit_code !== null && job.exit_code !== undefined) {
      state += " (exit code " + job.exit_code + ")";
    }
    document.getElementById("job-state").textContent = state;
    if (job.error) {
      var err = document.getElementById("job-error");
      err.textContent = job.error;
      err.hidden = false;
    }
    if (job.run_id) {
      var link = document.getElementById("run-link");
      link.textContent = job.run_id;
      link.setAttribute("href", "/runs/" + encodeURIComponent(job.run_id));
      document.getElementById("job-result").hidden = false;
    }
    document.getElementById("refresh").hidden = true;
    box.setAttribute("data-state", "done");
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.json();
      })
      .then(function (job) {
        showSteps(job.steps || []);
        if (job.state === "running") {
          window.setTimeout(poll, POLL_MS);
        } else {
          showEnd(job);
        }
      })
      .catch(function () {
        // The console may be restarting: the refresh link comes back, polling goes on slower.
        document.getElementById("refresh").hidden = false;
        window.setTimeout(poll, POLL_MS * 5);
      });
  }

  document.getElementById("refresh").hidden = true;
  window.setTimeout(poll, POLL_MS);
}());
