/* A capture form's snippet. It keeps the visitor's first touch of the session (UTM
 * parameters, referrer, landing URL) in this site's localStorage, for 30 minutes after
 * the last page that ran it, and sends it with the submission. No cookies, no third
 * party. On the hosted page it only fills the form's hidden fields (a plain POST);
 * elsewhere it renders the form, or takes over a <form data-crm-form="KEY">, and sends
 * it with fetch. */
(function (config) {
  "use strict";
  var STORAGE_KEY = "crm_first_touch";
  var IDLE_MS = 30 * 60 * 1000;
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var ATTRIBUTION = UTM.concat(["referrer", "landing_url"]);
  var script = document.currentScript;

  function thisPage() {
    var params = new URLSearchParams(window.location.search);
    var touch = { referrer: document.referrer || "", landing_url: window.location.href };
    UTM.forEach(function (name) { touch[name] = params.get(name) || ""; });
    return touch;
  }

  function stored() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.touch && Date.now() - saved.seen < IDLE_MS) { return saved.touch; }
    } catch (e) {
      return null; /* storage blocked or corrupt: this page is the first touch */
    }
    return null;
  }

  function firstTouch() {
    var touch = stored() || thisPage();
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ touch: touch, seen: Date.now() }));
    } catch (e) {
      /* storage blocked: the submission still carries this page's attribution */
    }
    var clean = {};
    ATTRIBUTION.forEach(function (name) { clean[name] = String(touch[name] || ""); });
    return clean;
  }

  var touch = firstTouch();

  function fillHidden(form) {
    ATTRIBUTION.forEach(function (name) {
      var input = form.querySelector('input[type="hidden"][name="' + name + '"]');
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        form.appendChild(input);
      }
      if (touch[name]) { input.value = touch[name]; }
    });
  }

  function element(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) { node[key] = props[key]; });
    return node;
  }

  function render(container) {
    var form = element("form", { className: "crm-form", noValidate: false });
    config.fields.forEach(function (field) {
      var row = element("p");
      var id = "crm-" + config.public_key + "-" + field.name;
      row.appendChild(element("label", { htmlFor: id, textContent: field.label + (field.required ? " *" : "") }));
      var input = field.input_type === "textarea"
        ? element("textarea", { id: id, name: field.name, required: field.required })
        : element("input", { id: id, name: field.name, type: field.input_type, required: field.required });
      row.appendChild(input);
      form.appendChild(row);
    });
    var trap = element("div");
    trap.setAttribute("aria-hidden", "true");
    trap.style.position = "absolute";
    trap.style.left = "-10000px";
    trap.appendChild(element("input", { name: config.honeypot_field, type: "text", tabIndex: -1, autocomplete: "off" }));
    form.appendChild(trap);
    form.appendChild(element("button", { type: "submit", textContent: "Send" }));
    container.appendChild(form);
    return form;
  }

  function send(form) {
    var status = form.querySelector(".crm-status");
    if (!status) {
      status = element("p", { className: "crm-status" });
      status.setAttribute("role", "status");
      form.appendChild(status);
    }
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && ATTRIBUTION.indexOf(name) < 0) { values[name] = value; }
    });
    status.textContent = "";
    fetch(config.submit_url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ values: values, attribution: touch })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (!result.ok) {
        status.className = "crm-status crm-error";
        status.textContent = result.body.detail || "The form could not be sent.";
        return;
      }
      if (result.body.redirect_url) { window.location.assign(result.body.redirect_url); return; }
      var done = element("p", { className: "crm-thanks", textContent: result.body.message });
      done.setAttribute("role", "status");
      form.replaceWith(done);
    }).catch(function () {
      status.className = "crm-status crm-error";
      status.textContent = "The form could not be sent; please try again.";
    });
  }

  function start() {
    var target = document.querySelector('[data-crm-form="' + config.public_key + '"]');
    if (target && target.tagName === "FORM" && target.getAttribute("data-crm-native") === "true") {
      target.addEventListener("submit", function () { fillHidden(target); });
      return;
    }
    if (!target) {
      target = element("div");
      if (script && script.parentNode) {
        script.parentNode.insertBefore(target, script.nextSibling);
      } else {
        document.body.appendChild(target);
      }
    }
    var form = target.tagName === "FORM" ? target : render(target);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})
