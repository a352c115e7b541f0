// The page's log, posted to the test server's /log (web_test.serve_page) line by line:
// what the engine prints, page errors, and the page's own events.
let chain = Promise.resolve();
function log(kind, text) {
  // One POST at a time keeps the lines in order.
  chain = chain.then(() => fetch("/log", { method: "POST", body: kind + " " + text })
    .catch(() => {}));
}
window.addEventListener("error", (e) => log("ERR", "page: " + e.message));
window.addEventListener("unhandledrejection", (e) => log("ERR", "page: " + e.reason));
log("PAGE", "loaded " + navigator.userAgent);
