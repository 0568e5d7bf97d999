/**
 * Builds an element. Children are nodes or strings, and strings always become text nodes:
 * nothing here parses HTML, so data from the API is shown as text whatever it holds.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

export const byId = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
};

/** An http(s) URL as given, or undefined: anything else (`javascript:`, say) never becomes a link. */
export function safeHttpUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Shows `message` under a form field (its `aria-describedby` error paragraph); empty clears it. */
export function markField(input, errorElement, message = '') {
  errorElement.textContent = message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/** Hands `blob` to the browser as a download named `filename`. */
export function saveFile(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked a while later, not at once: some browsers read the blob after the click returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
