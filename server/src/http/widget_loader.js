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
    setCustomerToken: function (token) { call("set_customer_token", token || null); },
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
