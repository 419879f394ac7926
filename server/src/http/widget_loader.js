// Tally widget loader. Storefronts embed:
//   <script src="https://TALLY_HOST/widget.js" data-program="pk_..."
//           data-customer-token="JWT" data-locale="ko" async></script>
// or, in single-page shops, call window.Tally.init({program, customerToken, locale}).
// It creates a host element with a Shadow DOM (styles isolated both ways) and starts the WASM
// widget inside it, loaded from the same Tally server as this script.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    console.error("[tally] widget.js must be included with a <script src=...> tag.");
    return;
  }
  var base = new URL(script.src).origin;
  var widget = null; // the WASM module's exports once started
  var queued = []; // calls made before it started
  var started = false;

  // Referral links (`?ref=CODE`, the parameter as the program sets it): the code is kept in a
  // first-party cookie for the program's days, and claimed for the shopper once they are
  // signed in (it is cleared when the server has answered for good). On Shopify it also goes
  // into the cart's attributes, so the order itself carries it.
  var REFERRAL_COOKIE = "tally_ref";
  var customerToken = null;
  var startedProgram = null;

  function readCookie(name) {
    var found = document.cookie.split("; ").filter(function (part) { return part.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  function writeCookie(name, value, seconds) {
    var secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + seconds + "; Path=/; SameSite=Lax" + secure;
  }

  // A random id of this browser (first-party), so that many claims from one browser stand out.
  function deviceId() {
    try {
      var id = window.localStorage.getItem("tally_device");
      if (!id) {
        id = Array.prototype.map.call(window.crypto.getRandomValues(new Uint8Array(16)), function (byte) {
          return (byte + 256).toString(16).slice(1);
        }).join("");
        window.localStorage.setItem("tally_device", id);
      }
      return id;
    } catch (error) {
      return null; // storage refused (private mode): the address still counts
    }
  }

  function captureReferral(program) {
    if (!window.location.search) return Promise.resolve();
    return fetch(base + "/widget/v1/programs/" + encodeURIComponent(program))
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (summary) {
        var capture = summary && summary.referral_capture;
        var code = capture && new URLSearchParams(window.location.search).get(capture.parameter);
        if (!code) return;
        writeCookie(REFERRAL_COOKIE, code, capture.keep_days * 86400);
        if (window.Shopify) {
          fetch("/cart/update.js", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ attributes: { tally_ref: code } }),
          }).catch(function () {});
        }
      })
      .catch(function () {});
  }

  function claimReferral(program) {
    var code = readCookie(REFERRAL_COOKIE);
    if (!code || !customerToken) return;
    fetch(base + "/widget/v1/programs/" + encodeURIComponent(program) + "/me/referral", {
      method: "POST",
      headers: { Authorization: "Bearer " + customerToken, "Content-Type": "application/json" },
      body: JSON.stringify({ code: code, device: deviceId() }),
    })
      .then(function (response) {
        // Recorded, or refused for good (own code, unknown code, referred already): done.
        // A limit or a server error keeps the code for the next page.
        if (response.status !== 429 && response.status < 500) writeCookie(REFERRAL_COOKIE, "", 0);
        if (!response.ok && response.status !== 429) {
          response.json().then(function (problem) {
            console.info("[tally] Referral code not recorded:", problem.detail || response.status);
          }).catch(function () {});
        }
      })
      .catch(function () {});
  }

  function call(name, argument) {
    if (widget) widget[name](argument);
    else queued.push([name, argument]);
  }

  function start(options) {
    if (started) return;
    if (!options.program) {
      console.error("[tally] No program: add data-program=\"pk_...\" to the script tag or call Tally.init({program}).");
      return;
    }
    started = true;
    customerToken = options.customerToken || null;
    startedProgram = options.program;
    captureReferral(options.program).then(function () { claimReferral(options.program); });
    var host = document.createElement("div");
    host.id = "tally-widget";
    var root = host.attachShadow({ mode: "open" });
    (document.body || document.documentElement).appendChild(host);
    import(base + "__TALLY_WIDGET_JS__")
      .then(function (module) {
        return module.default({ module_or_path: base + "__TALLY_WIDGET_WASM__" }).then(function () {
          module.mount(root, options.program, base, options.customerToken || null, options.locale || null);
          widget = module;
          queued.forEach(function (entry) { module[entry[0]](entry[1]); });
          queued = [];
          // A link from one of the program's emails (`?tally=open`) opens the panel.
          if (/[?&]tally=open(&|$)/.test(window.location.search)) module.open();
          document.dispatchEvent(new CustomEvent("tally:ready", { bubbles: true }));
        });
      })
      .catch(function (error) {
        console.error("[tally] The widget could not start:", error);
      });
  }

  window.Tally = {
    init: function (options) { start(options || {}); },
    open: function () { call("open"); },
    close: function () { call("close"); },
    setCustomerToken: function (token) {
      customerToken = token || null;
      if (startedProgram) claimReferral(startedProgram);
      call("set_customer_token", token || null);
    },
    logout: function () { call("set_customer_token", null); },
  };

  var program = script.getAttribute("data-program");
  if (program) {
    var options = {
      program: program,
      customerToken: script.getAttribute("data-customer-token"),
      locale: script.getAttribute("data-locale"),
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () { start(options); });
    } else {
      start(options);
    }
  }
})();
