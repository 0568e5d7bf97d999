import { h } from './dom.js';

/** Why the SSH service closed the socket, by close code (ssh/terminal-protocol.ts). */
const closeReasons = {
  1000: 'The shell exited.',
  4401: 'The terminal ticket was refused (used or expired): open the terminal again.',
  4403: 'You may no longer open a shell in this app.',
  4404: 'The instance is gone (redeployed or stopped): open the terminal again.',
  4500: 'The shell could not be started.',
  4503: 'The SSH service is restarting: open the terminal again in a moment.',
};

let stylesAdded = false;

/** xterm's own stylesheet and ours, added once, the first time a terminal opens. */
function addStylesheets() {
  if (stylesAdded) return;
  stylesAdded = true;
  for (const href of ['vendor/xterm.css', 'terminal.css']) document.head.append(h('link', { rel: 'stylesheet', href }));
}

let styleAttributesRouted = false;

/**
 * xterm.js sets some styles as `style` attributes (24-bit colours, the selection's text), which
 * the CSP refuses; and a refused attribute is lost for good as soon as xterm next touches
 * `element.style`. So from the first terminal on, a script's `setAttribute('style', …)` goes
 * through CSSOM (`element.style.cssText`), which the CSP does not govern. This lets the page's
 * own scripts do what they could already do with `element.style`; inline styles in markup (the
 * injection the policy guards against) stay refused. Nothing else of the dashboard sets `style`.
 */
function routeStyleAttributesThroughCssom() {
  if (styleAttributesRouted) return;
  styleAttributesRouted = true;
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLElement && String(name).toLowerCase() === 'style') {
      this.style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };
}

/**
 * xterm.js also writes part of its styling (colours, cell layout) into `<style>` elements, which
 * the CSP refuses too. Rather than weaken the CSP for the whole page, their text is mirrored into
 * a constructed stylesheet (CSSOM again) each time xterm changes it. The refusals of the elements
 * still show in the console.
 */
function mirrorInlineStyles(root) {
  const sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  const copySheets = () => sheet.replaceSync([...root.querySelectorAll('style')].map((s) => s.textContent).join('\n'));
  // Rows re-render on every output: only changes of a <style> (its text, or one added) recopy.
  const isStyle = (node) => node.nodeName === 'STYLE' || node.parentNode?.nodeName === 'STYLE';
  const observer = new MutationObserver((mutations) => {
    if (mutations.some((m) => isStyle(m.target) || [...m.addedNodes].some((n) => n.nodeName === 'STYLE'))) copySheets();
  });
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  copySheets();
  return () => {
    observer.disconnect();
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  };
}

/**
 * The web terminal panel: a shell in one instance of an app, in xterm.js, over a WebSocket to the
 * API's `/terminal` (which forwards it to the SSH service). The API token never goes there: the
 * page asks `POST /apps/:name/terminal` for a single-use ticket and hands it over as a WebSocket
 * subprotocol. Closing the panel, signing out or closing the tab closes the socket, which ends the
 * shell's processes.
 */
export function createTerminalView({ column }) {
  const title = h('h2', { id: 'terminal-title' }, 'Terminal');
  const picker = h('select', { id: 'terminal-instance', 'aria-describedby': 'terminal-status' });
  const status = h('p', { id: 'terminal-status', class: 'help', role: 'status' });
  const screen = h('div', { id: 'terminal-screen', class: 'terminal-screen' });
  const closeButton = h('button', { type: 'button', id: 'terminal-close' }, 'Close');
  const section = h(
    'section',
    { id: 'terminal', class: 'card terminal', 'aria-labelledby': 'terminal-title', hidden: true },
    h(
      'div',
      { class: 'section-head' },
      title,
      h(
        'div',
        { class: 'terminal-controls' },
        h('label', { for: 'terminal-instance' }, 'Instance'),
        picker,
        closeButton,
      ),
    ),
    status,
    screen,
    h(
      'p',
      { class: 'help' },
      'Copy: select, then Ctrl+Shift+C (or the context menu). Paste: Ctrl+Shift+V. The shell ends when you close this panel or the tab.',
    ),
  );
  column.append(section);

  /** The open session: its socket, terminal and clean-up; undefined when closed. */
  let session;
  /** Bumped by every open and close, so a late answer for an older one is dropped. */
  let generation = 0;

  function say(text, problem = false) {
    status.textContent = text;
    status.classList.toggle('problem', problem);
  }

  function disconnect() {
    generation += 1;
    const current = session;
    session = undefined;
    if (!current) return;
    current.socket?.close(1000, 'closed by the user');
    for (const stop of current.stops) stop();
    current.term.dispose();
  }

  async function connect(api, name, instance) {
    disconnect();
    const mine = generation;
    addStylesheets();
    section.hidden = false;
    section.dataset.state = 'connecting';
    title.textContent = `Terminal: ${name}`;
    say(`Opening a shell in ${name}…`);
    let grant;
    let modules;
    try {
      [grant, modules] = await Promise.all([
        api.terminalTicket(name, instance),
        Promise.all([import('../vendor/xterm.mjs'), import('../vendor/addon-fit.mjs')]),
      ]);
    } catch (err) {
      if (mine !== generation) return;
      section.dataset.state = 'closed';
      say(`Could not open a terminal in ${name}: ${err.message}`, true);
      return;
    }
    if (mine !== generation) return;
    const [{ Terminal }, { FitAddon }] = modules;
    picker.replaceChildren(
      ...grant.instances.map((i) =>
        h('option', { value: String(i.index), selected: i.index === grant.instance }, `${i.index} (${i.node})`),
      ),
    );
    picker.onchange = () => connect(api, name, Number(picker.value));

    const term = new Terminal({
      cursorBlink: true,
      convertEol: false,
      scrollback: 5000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    routeStyleAttributesThroughCssom();
    const stops = [mirrorInlineStyles(screen)];
    term.open(screen);
    fit.fit();
    const current = { term, socket: undefined, stops };
    session = current;

    // Ctrl+Shift+C copies the selection (Ctrl+C is the shell's interrupt); Ctrl+Shift+V is left to
    // the browser, whose paste event xterm turns into input.
    term.attachCustomKeyEventHandler((event) => {
      if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey) return true;
      if (event.code === 'KeyC') {
        const selection = term.getSelection();
        if (selection) navigator.clipboard?.writeText(selection).catch(() => {});
        return false;
      }
      return event.code !== 'KeyV';
    });

    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}${grant.socket}`, [
      grant.protocol,
      `ticket.${grant.ticket}`,
    ]);
    socket.binaryType = 'arraybuffer';
    current.socket = socket;
    const encoder = new TextEncoder();
    const sendResize = () => {
      if (socket.readyState === WebSocket.OPEN)
        socket.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
    };
    const input = term.onData((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    // Bytes that are not text (some mouse reports): one byte per character, as xterm gives them.
    const binary = term.onBinary((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
    });
    const resized = term.onResize(sendResize);
    const observer = new ResizeObserver(() => {
      if (session === current) fit.fit();
    });
    observer.observe(screen);
    stops.push(
      () => input.dispose(),
      () => binary.dispose(),
      () => resized.dispose(),
      () => observer.disconnect(),
    );

    socket.onopen = () => {
      sendResize();
      term.focus();
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') {
        term.write(new Uint8Array(event.data));
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'ready') {
        section.dataset.state = 'open';
        say(`Connected to ${name}, instance ${message.instance} (${message.container}) on node ${message.node}.`);
      } else if (message.type === 'exit') {
        say(`The shell exited with status ${message.code}.`);
      } else if (message.type === 'error') {
        say(String(message.message ?? 'error'), true);
      }
    };
    socket.onclose = (event) => {
      if (session !== current) return;
      section.dataset.state = 'closed';
      const known = closeReasons[event.code];
      if (event.code === 1000) say(known, false);
      else say(event.reason || known || `The connection was lost (${event.code}).`, true);
    };
  }

  closeButton.addEventListener('click', () => {
    disconnect();
    section.hidden = true;
    delete section.dataset.state;
  });

  return {
    open(api, name) {
      connect(api, name, undefined);
      section.scrollIntoView({ block: 'nearest' });
    },
    reset() {
      disconnect();
      section.hidden = true;
      picker.replaceChildren();
      say('');
    },
  };
}
