// Tally widget loader. Storefronts embed:
//   <script src="https://TALLY_HOST/widget.js" data-program="pk_..." async></script>
// It creates a host element with a Shadow DOM (styles isolated both ways) and starts the
// WASM widget inside it, loaded from the same Tally server as this script.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    console.error("[tally] widget.js must be included with a <script src=...> tag.");
    return;
  }
  var program = script.getAttribute("data-program");
  if (!program) {
    console.error("[tally] The widget <script> tag needs data-program=\"pk_...\".");
    return;
  }
  var base = new URL(script.src).origin;
  var host = document.createElement("div");
  host.id = "tally-widget";
  var root = host.attachShadow({ mode: "open" });

  function start() {
    (document.body || document.documentElement).appendChild(host);
    import(base + "__TALLY_WIDGET_JS__")
      .then(function (widget) {
        return widget.default({ module_or_path: base + "__TALLY_WIDGET_WASM__" }).then(function () {
          widget.mount(root, program, base);
        });
      })
      .catch(function (error) {
        console.error("[tally] The widget could not start:", error);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
