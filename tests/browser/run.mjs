// Opens a page in headless Chromium and prints, as JSON on stdout, what the page left in
// window.__result plus what the browser saw: the requests it sent, console messages, page
// errors, and any attempt to reach an origin other than the two under test (refused).
//
//   node run.mjs PAGE_URL API_ORIGIN [SCREENSHOT.png]
import { chromium } from "playwright-core";

const [pageUrl, apiOrigin, screenshot] = process.argv.slice(2);
const allowed = new Set([new URL(pageUrl).origin, apiOrigin]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
  ],
});
const seen = { requests: [], console: [], pageErrors: [], external: [] };
try {
  const page = await browser.newPage();
  page.on("request", (request) => {
    if (new URL(request.url()).origin === apiOrigin) {
      seen.requests.push({ method: request.method(), url: request.url(), headers: request.headers() });
    }
  });
  page.on("console", (message) => seen.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => seen.pageErrors.push(String(error)));
  // Only requests leaving the two origins are intercepted, so CORS runs untouched for the API.
  await page.route(
    (url) => !allowed.has(url.origin),
    (route) => {
      seen.external.push(route.request().url());
      return route.abort();
    },
  );
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 90_000 });
  const outcome = await page.evaluate(() => window.__result);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(JSON.stringify({ ...outcome, seen }));
} finally {
  await browser.close();
}
