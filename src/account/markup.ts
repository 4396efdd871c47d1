/** The account page's HTML and CSS (docs/account-page.md). `prefix` is the mount prefix, `""` at the root. */
export function accountHtml(prefix: string): string {
  const assets = `${prefix}/account/assets`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Your account</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets}/account.css">
<script type="module" src="${assets}/account/page.js"></script>
</head>
<body>
<main id="app" aria-live="polite"><p>Loading...</p><noscript>This page needs JavaScript.</noscript></main>
</body>
</html>
`;
}

export const ACCOUNT_CSS = `:root { font-family: system-ui, sans-serif; color-scheme: light dark; }
body { max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
form, section { margin: 1.5rem 0; padding: 1rem; border: 1px solid #8886; border-radius: 0.5rem; }
label { display: block; margin: 0.5rem 0; }
input { display: block; width: 100%; box-sizing: border-box; padding: 0.4rem; font: inherit; }
button { margin-top: 0.5rem; padding: 0.4rem 0.9rem; font: inherit; cursor: pointer; }
input:focus-visible, button:focus-visible { outline: 3px solid #58f; outline-offset: 2px; }
h1:focus { outline: none; }
#status:empty { display: none; }
#status { padding: 0.5rem; border-left: 4px solid #58f; }
#sessions li { margin: 0.25rem 0; }
`;
