/**
 * A tiny element builder: the console writes no HTML strings (Trusted Types forbid them), only
 * elements and text nodes, so nothing a server or an IdP sends can become markup.
 */
export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else if (child !== null && child !== undefined && child !== false) parent.appendChild(document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let nextId = 0;
/** A unique id for label/for and aria-describedby pairs. */
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Says something to screen-reader users without moving focus. */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node after a tick makes screen readers repeat an identical message.
  window.setTimeout(() => (region.textContent = message), 30);
}

/** A status line for one form: polite for progress and success, assertive (alert) for errors. */
export function statusLine(): { element: HTMLElement; ok(message: string): void; error(message: string): void; clear(): void } {
  const element = h('p', { class: 'status', 'aria-live': 'polite' });
  return {
    element,
    ok(message) {
      element.className = 'status ok';
      element.setAttribute('role', 'status');
      element.textContent = message;
    },
    error(message) {
      element.className = 'status error';
      element.setAttribute('role', 'alert');
      element.textContent = message;
    },
    clear() {
      element.className = 'status';
      element.removeAttribute('role');
      element.textContent = '';
    },
  };
}

/** A read-only value with a copy button; the button says what it copied. */
export function copyable(label: string, value: string, options: { block?: boolean; testId?: string } = {}): HTMLElement {
  const id = uid('copy');
  const valueElement = options.block
    ? h('pre', { class: 'snippet', id, tabindex: 0, 'aria-label': label, 'data-testid': options.testId }, h('code', {}, value))
    : h('code', { class: 'value', id, 'data-testid': options.testId }, value);
  const button = h('button', { type: 'button', class: 'secondary small', 'aria-describedby': id }, `Copy ${label}`);
  button.addEventListener('click', () => {
    void copyText(value).then(
      () => {
        button.textContent = 'Copied';
        announce(`${label} copied to the clipboard`);
        window.setTimeout(() => (button.textContent = `Copy ${label}`), 2000);
      },
      () => announce(`Could not copy: select the ${label} and copy it by hand`),
    );
  });
  return h('div', { class: options.block ? 'copyable block' : 'copyable' }, valueElement, button);
}

async function copyText(value: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(value);
  throw new Error('no clipboard');
}

export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, help?: Child): HTMLElement {
  control.id ||= uid('field');
  const helpId = help ? uid('help') : undefined;
  if (helpId) control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), helpId].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, help ? h('p', { class: 'help', id: helpId }, help) : null);
}

export function formatDate(iso: string | null): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return `${date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })} ${date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}
