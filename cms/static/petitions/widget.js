/*
 * The embeddable petition widget: a live counter and the sign form of one petition,
 * on any page, through the public JSON API only.
 *
 *   <script src="https://petitions.example.org/static/petitions/widget.js"
 *           data-petition="42" data-source="partner-x" async></script>
 *
 * Optional attributes: data-target="#some-element" (render there instead of after the
 * script), data-api="https://petitions.example.org" (the API's origin; by default the
 * script's own). The partner's origin must be on the site's allow-list
 * (PETITIONS["ALLOWED_ORIGINS"]): the API lets other origins neither read nor sign.
 * Everything the API returns is put in the page as text, never as HTML.
 *
 * When the site requires a challenge (the petition's "challenge": Turnstile or hCaptcha),
 * the widget loads the provider's script on the partner's page and renders its widget in
 * the form: at once in "always" mode, and in "threshold" mode once the sign endpoint
 * answers challenge_required. The provider's widget lives in the page's own DOM (a slot of
 * the shadow root), where its script can find it. Partner pages with a CSP allow the
 * provider's origins too (README: "Challenge (CAPTCHA)").
 */
(function () {
  "use strict";

  var POLL_MS = 15000;
  var STYLE = [
    ":host { all: initial; display: block; font: 16px/1.45 system-ui, sans-serif; color: #1d1d1f; }",
    ".pw { border: 1px solid #d0d0d5; border-radius: 8px; padding: 16px; max-width: 420px; background: #fff; }",
    ".pw h2 { font-size: 1.15em; margin: 0 0 8px; }",
    ".pw h2 a { color: inherit; }",
    ".pw__count { font-size: 1.6em; font-weight: 700; }",
    ".pw progress { width: 100%; height: 10px; }",
    ".pw__field { margin: 8px 0; }",
    ".pw__field label { display: block; font-weight: 600; font-size: .9em; }",
    ".pw__field--check label { display: inline; font-weight: 400; }",
    ".pw input[type=text], .pw input[type=email], .pw select { width: 100%; box-sizing: border-box; padding: 6px; font: inherit; }",
    ".pw__error { color: #b00020; font-size: .9em; margin: 2px 0 0; }",
    ".pw__help, .pw__privacy { font-size: .85em; color: #555; margin: 2px 0 0; }",
    ".pw__hp { position: absolute; left: -9999px; }",
    ".pw button { margin-top: 8px; padding: 8px 16px; font: inherit; font-weight: 600; color: #fff; background: #c8102e; border: 0; border-radius: 4px; cursor: pointer; }",
    ".pw__notice { margin: 8px 0 0; }",
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== null && attrs[name] !== undefined && attrs[name] !== false) node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var loading = {};

  // Load a challenge provider's script once per page, rendering explicitly; call ready when it has run.
  function loadProvider(challenge, ready) {
    var api = window[challenge.provider];
    if (api && api.render) return ready(api);
    var waiting = loading[challenge.script];
    if (waiting) return waiting.push(ready);
    waiting = loading[challenge.script] = [ready];
    var name = "petitionWidgetChallenge" + Math.random().toString(36).slice(2);
    window[name] = function () {
      waiting.forEach(function (callback) {
        callback(window[challenge.provider]);
      });
    };
    var separator = challenge.script.indexOf("?") < 0 ? "?" : "&";
    document.head.appendChild(
      el("script", { src: challenge.script + separator + "render=explicit&onload=" + name, async: true, defer: true })
    );
  }

  function format(n) {
    return Number(n).toLocaleString();
  }

  // The widget's words come translated with the petition (its "texts", in the language the browser
  // asks for); these English ones serve until then, and for an API too old to send them.
  var TEXTS = {
    loading: "Loading the petition…",
    load_failed: "This petition could not be loaded.",
    signatures: "signatures",
    goal: "Goal: %(goal)s",
    choose: "Choose…",
    sign: "Sign",
    privacy: "How we use your data",
    check_email: "Check your email: %(detail)s",
    correct_fields: "Please correct the fields marked.",
    send_failed: "Your signature could not be sent. Please try again.",
  };

  // A text with its %(name)s placeholders filled in (as text: the caller puts it in the page as text).
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function Widget(script) {
    this.petition = script.getAttribute("data-petition");
    this.source = script.getAttribute("data-source") || "";
    this.api = (script.getAttribute("data-api") || new URL(script.src, document.baseURI).origin).replace(/\/$/, "");
    var target = script.getAttribute("data-target");
    var host = target ? document.querySelector(target) : null;
    if (!host) {
      host = el("div", { class: "petition-widget" });
      script.parentNode.insertBefore(host, script.nextSibling);
    }
    this.host = host;
    this.root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    this.root.appendChild(el("style", {}, STYLE));
    this.box = this.root.appendChild(el("div", { class: "pw", "aria-live": "polite" }));
    this.texts = Object.assign({}, TEXTS);
    this.box.appendChild(el("p", {}, this.texts.loading));
  }

  Widget.prototype.url = function (path) {
    return this.api + "/api/petitions/" + encodeURIComponent(this.petition) + path;
  };

  Widget.prototype.load = function () {
    var self = this;
    fetch(this.url("/"), { mode: "cors", credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (petition) {
        self.render(petition);
        setInterval(function () {
          if (!document.hidden) self.refreshCount();
        }, POLL_MS);
      })
      .catch(function () {
        self.box.textContent = "";
        self.box.appendChild(el("p", { class: "pw__notice", role: "alert" }, self.texts.load_failed));
      });
  };

  Widget.prototype.render = function (petition) {
    var box = this.box;
    var texts = this.texts;
    Object.keys(petition.texts || {}).forEach(function (name) {
      if (typeof petition.texts[name] === "string") texts[name] = petition.texts[name];
    });
    box.textContent = "";
    var heading = box.appendChild(el("h2"));
    heading.appendChild(el("a", { href: petition.url, target: "_blank", rel: "noopener" }, petition.title));
    var counter = box.appendChild(el("p", { class: "pw__counter" }));
    this.count = counter.appendChild(el("span", { class: "pw__count", "data-count": petition.count }, format(petition.count)));
    counter.appendChild(document.createTextNode(" " + texts.signatures));
    this.progress = box.appendChild(el("progress", { max: petition.goal, value: petition.count }));
    this.goal = box.appendChild(el("p", { class: "pw__goal" }, fill(texts.goal, { goal: format(petition.goal) })));
    if (!petition.accepting_signatures) {
      box.appendChild(el("p", { class: "pw__notice" }, petition.refusal));
      return;
    }
    this.renderForm(petition);
  };

  Widget.prototype.renderForm = function (petition) {
    var self = this;
    var texts = this.texts;
    var form = this.box.appendChild(el("form", { class: "pw__form", novalidate: true }));
    this.inputs = {};
    this.errors = {};
    petition.form.forEach(function (field) {
      var id = "pw-" + field.name;
      var wrap = form.appendChild(el("div", { class: "pw__field" + (field.type === "boolean" ? " pw__field--check" : "") }));
      var label = el("label", { for: id }, field.name === "share_with_officials" ? petition.consent_wording : field.label);
      var input;
      if (field.type === "choice") {
        input = el("select", { id: id, name: field.name, required: field.required });
        // No pick made for the signer: with no initial value the first option is a prompt, not a choice.
        if (field.initial === null || field.initial === undefined) {
          input.appendChild(el("option", { value: "" }, texts.choose));
        }
        (field.choices || []).forEach(function (choice) {
          var option = input.appendChild(el("option", { value: choice.value }, choice.label));
          if (choice.value === field.initial) option.selected = true;
        });
      } else if (field.type === "boolean") {
        input = el("input", { id: id, name: field.name, type: "checkbox" });
        input.checked = field.initial === true;
      } else {
        input = el("input", {
          id: id,
          name: field.name,
          type: field.type === "email" ? "email" : "text",
          maxlength: field.max_length,
          required: field.required,
          autocomplete: { first_name: "given-name", last_name: "family-name", email: "email", postcode: "postal-code" }[field.name] || null,
        });
      }
      if (field.type === "boolean") {
        wrap.appendChild(input);
        wrap.appendChild(document.createTextNode(" "));
        wrap.appendChild(label);
        if (field.help) wrap.appendChild(el("p", { class: "pw__help" }, field.help));
      } else {
        wrap.appendChild(label);
        wrap.appendChild(input);
      }
      self.inputs[field.name] = input;
      self.errors[field.name] = wrap.appendChild(el("p", { class: "pw__error", hidden: true }));
    });
    // The honeypot: people never see it, naive bots fill it in.
    var trap = form.appendChild(el("div", { class: "pw__hp", "aria-hidden": "true" }));
    this.trap = trap.appendChild(el("input", { name: "website", tabindex: "-1", autocomplete: "off" }));
    this.challenge = petition.challenge || null;
    this.challengeToken = "";
    if (this.challenge) {
      // The provider's script looks for its widget in the document: it goes in the light DOM,
      // shown here through a slot (or straight in the form where there is no shadow root).
      this.challengeBox = el("div", { class: "pw__challenge", slot: "petition-challenge" });
      if (this.root === this.host) form.appendChild(this.challengeBox);
      else {
        form.appendChild(el("slot", { name: "petition-challenge" }));
        this.host.appendChild(this.challengeBox);
      }
      if (this.challenge.mode === "always") this.showChallenge();
    }
    this.button = form.appendChild(el("button", { type: "submit" }, texts.sign));
    if (petition.privacy_url) {
      var privacy = form.appendChild(el("p", { class: "pw__privacy" }));
      privacy.appendChild(el("a", { href: petition.privacy_url, target: "_blank", rel: "noopener" }, texts.privacy));
    }
    this.notice = form.appendChild(el("p", { class: "pw__notice", role: "alert" }));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit(form);
    });
  };

  // Render the challenge, or reset it (a token is spent once the server has checked it).
  Widget.prototype.showChallenge = function () {
    var self = this;
    var challenge = this.challenge;
    this.challengeToken = "";
    if (this.challengeId !== undefined) {
      window[challenge.provider].reset(this.challengeId);
      return;
    }
    if (this.challengeLoading) return;
    this.challengeLoading = true;
    loadProvider(challenge, function (api) {
      var options = {
        sitekey: challenge.site_key,
        callback: function (token) {
          self.challengeToken = token;
        },
        "expired-callback": function () {
          self.challengeToken = "";
        },
      };
      if (challenge.provider === "turnstile") options.action = challenge.action;
      self.challengeId = api.render(self.challengeBox, options);
    });
  };

  Widget.prototype.submit = function (form) {
    var self = this;
    var body = { website: this.trap.value };
    Object.keys(this.inputs).forEach(function (name) {
      var input = self.inputs[name];
      self.errors[name].hidden = true;
      if (input.tagName === "SELECT" && input.value === "") return; // not picked: the server names the field
      body[name] = input.type === "checkbox" ? input.checked : input.value;
    });
    if (this.challengeToken) body.challenge_token = this.challengeToken;
    this.notice.textContent = "";
    this.button.disabled = true;
    var query = this.source ? "?source=" + encodeURIComponent(this.source) : "";
    fetch(this.url("/signatures/" + query), {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { status: response.status, data: data };
        });
      })
      .then(function (answer) {
        self.button.disabled = false;
        if (answer.status === 202) {
          form.replaceWith(
            el("p", { class: "pw__thanks", role: "status" }, fill(self.texts.check_email, { detail: answer.data.detail }))
          );
          return;
        }
        var errors = answer.data.errors || {};
        Object.keys(errors).forEach(function (name) {
          if (self.errors[name]) {
            self.errors[name].textContent = errors[name].join(" ");
            self.errors[name].hidden = false;
          }
        });
        var code = answer.data.code;
        // The server asks the provider only about valid fields: then the token is spent.
        if (self.challenge && /^challenge_/.test(code || "")) self.showChallenge();
        self.notice.textContent = code === "invalid" ? self.texts.correct_fields : answer.data.detail;
      })
      .catch(function () {
        self.button.disabled = false;
        self.notice.textContent = self.texts.send_failed;
      });
  };

  Widget.prototype.refreshCount = function () {
    var self = this;
    // no-cache: revalidate with the ETag (a cheap 304) instead of reusing a stale copy.
    fetch(this.url("/count.json"), { mode: "cors", credentials: "omit", cache: "no-cache" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data || data.count <= Number(self.count.getAttribute("data-count"))) return;
        self.count.setAttribute("data-count", data.count);
        self.count.textContent = format(data.count);
        self.progress.max = data.goal;
        self.progress.value = data.count;
        self.goal.textContent = fill(self.texts.goal, { goal: format(data.goal) });
      })
      .catch(function () {});
  };

  function start(script) {
    if (!script || script.getAttribute("data-petition-widget") === "started") return;
    script.setAttribute("data-petition-widget", "started");
    new Widget(script).load();
  }

  // document.currentScript is set while an async classic script runs; the query is a fallback.
  start(document.currentScript);
  Array.prototype.forEach.call(document.querySelectorAll("script[data-petition][src*='widget.js']"), start);
})();
