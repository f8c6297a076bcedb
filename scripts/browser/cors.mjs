// CORS in a real browser: pages served on two localhost origins call the local gateway with a
// demo user's token. From the allowed origin the preflight and the call succeed, and the
// gateway's own 403 is readable; from the other origin the browser blocks the call.
//
//   node cors.mjs CHROMIUM API_URL TOKEN ALLOWED_PAGE OTHER_PAGE
//
// Prints one line per check and `browser: N passed, M failed`; exits non-zero on a failure.
import { chromium } from 'playwright-core';

const [executablePath, api, token, allowedPage, otherPage] = process.argv.slice(2);
if (!otherPage) {
  console.error('usage: node cors.mjs CHROMIUM API_URL TOKEN ALLOWED_PAGE OTHER_PAGE');
  process.exit(2);
}

// The flags a closed network needs: without them Chromium keeps calling home.
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

let passed = 0;
let failed = 0;
function check(description, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok   ${description}`);
  } else {
    failed += 1;
    console.log(`FAIL ${description}: ${detail}`);
  }
}

// Calls `path` from a page on `origin`, as an app would: fetch with the token, which makes the
// browser send a preflight first. Returns the status and body, or the error the page saw, and
// the console messages (where Chromium says why it blocked a call).
async function callFrom(pageUrl, path) {
  const page = await browser.newPage();
  const console = [];
  page.on('console', (message) => console.push(message.text()));
  await page.goto(pageUrl);
  const result = await page.evaluate(async ({ url, token }) => {
    try {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      return { error: String(error) };
    }
  }, { url: `${api}${path}`, token });
  await page.close();
  return { ...result, console: console.join('\n') };
}

try {
  const allowed = await callFrom(allowedPage, '/petstore/v1/pets');
  check('the allowed origin reads v1 pets (preflight and call succeed)',
    allowed.status === 200 && allowed.body.includes('"pets"'), JSON.stringify(allowed));

  const denied = await callFrom(allowedPage, '/petstore/v2/pets');
  check("the allowed origin reads the gateway's own 403 and its hint",
    denied.status === 403 && denied.body.includes('"hint"'), JSON.stringify(denied));

  const other = await callFrom(otherPage, '/petstore/v1/pets');
  check('another origin is blocked by the browser',
    other.error !== undefined && other.console.includes('blocked by CORS policy'),
    JSON.stringify(other));
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
