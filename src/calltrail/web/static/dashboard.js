// Calltrail dashboard: progressive enhancement only; every page works without this script.
// Tells the server the browser's time zone (a cookie), so times and the date filters are in
// the viewer's zone. If a page was rendered in another zone, it is reloaded once.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) {
    return;
  }
  var current = document.cookie.split("; ").filter(function (c) {
    return c.indexOf("calltrail_tz=") === 0;
  })[0];
  var wanted = "calltrail_tz=" + encodeURIComponent(zone);
  if (current === wanted) {
    return;
  }
  document.cookie = wanted + "; path=/; max-age=31536000; samesite=lax";
  var shown = document.body && document.body.getAttribute("data-zone");
  if (shown && shown !== zone) {
    window.location.reload();
  }
})();
