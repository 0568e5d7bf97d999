// The API token lives in this tab's sessionStorage only: never a cookie (so no request carries it
// unless a script of this page adds it) and never localStorage (so it ends with the tab).
const key = 'gasper.token';

export function storedToken() {
  try {
    return sessionStorage.getItem(key) ?? undefined;
  } catch {
    return undefined; // storage disabled: sign in again on every load
  }
}

export function storeToken(token) {
  try {
    sessionStorage.setItem(key, token);
  } catch {
    // storage disabled: the token lives in memory for this page only
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}
