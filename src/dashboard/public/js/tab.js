/**
 * What the tabs of the Manage panel share (env, scale, releases, databases, source): a status line under
 * the tab, and the handle the panel drives. `show` empties the tab, binds it to the API client and
 * the app, and loads it; `reset` empties it and lets go of both.
 */

/** Writes the tab's status line; `problem` shows it as an error. */
export function statusLine(message) {
  return (text, problem = false) => {
    message.textContent = text;
    message.classList.toggle('problem', problem);
  };
}

/**
 * The handle of a tab: `bind` sets (or, given undefined, clears) its client and app, `clear` empties
 * it, `load` fills it.
 */
export function tabHandle({ bind, clear, load }) {
  const reset = () => {
    bind(undefined, undefined);
    clear();
  };
  return {
    show(client, name) {
      reset();
      bind(client, name);
      return load();
    },
    reset,
  };
}

/** Puts `rows` in a table's body; an empty list hides the table and shows its `empty` note instead. */
export function showRows(body, empty, rows) {
  body.replaceChildren(...rows);
  empty.hidden = rows.length > 0;
  body.closest('table').hidden = rows.length === 0;
}
