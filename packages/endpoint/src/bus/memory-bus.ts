/** The in-process Bus: NATS subject matching over a token tree, delivery on a microtask. */
import { BusClosedError, splitSubject, type Bus, type BusHandler, type BusPayload } from './bus.ts';

export interface MemoryBusOptions {
  /** Hears what a handler threw; the other handlers of the same message still run. */
  onError?: (err: unknown, subject: string) => void;
}

interface Subscription {
  tokens: string[];
  handler: BusHandler;
  active: boolean;
}

/** One level of the subject tree; `*` and `>` are children like any other token. */
interface Node {
  children: Map<string, Node>;
  subscriptions: Set<Subscription>;
}

/** A message waiting for its microtask, or a `flush()` waiting for the messages before it. */
type Pending =
  { subject: string; payload: BusPayload; subscriptions: Subscription[] } | (() => void);

export class MemoryBus implements Bus {
  private readonly root = newNode();
  private queue: Pending[] = [];
  private scheduled = false;
  private closing: Promise<void> | undefined;
  private readonly onError: (err: unknown, subject: string) => void;

  constructor(options: MemoryBusOptions = {}) {
    // A subscriber's failure is its own business: without `onError` the owner chose not to
    // hear about it, and it must never stop delivery to the other subscribers.
    this.onError = options.onError ?? (() => {});
  }

  publish(subject: string, payload: BusPayload): void {
    if (this.closing) throw new BusClosedError();
    const tokens = splitSubject(subject, 'publish');

    // Subscribers are chosen now, so one that subscribes after this call does not see it,
    // as with NATS where the server routes the message when it arrives.
    const subscriptions: Subscription[] = [];
    collect(this.root, tokens, 0, subscriptions);
    if (subscriptions.length > 0) this.enqueue({ subject, payload, subscriptions });
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    if (this.closing) throw new BusClosedError();
    const tokens = splitSubject(subject, 'subscribe');
    const subscription: Subscription = { tokens, handler, active: true };

    let node = this.root;
    for (const token of tokens) {
      let child = node.children.get(token);
      if (!child) node.children.set(token, (child = newNode()));
      node = child;
    }
    node.subscriptions.add(subscription);

    return () => this.remove(subscription);
  }

  flush(): Promise<void> {
    return new Promise((resolve) => this.enqueue(resolve));
  }

  /** Delivers what was already published, like a NATS drain, then drops every subscription. */
  close(): Promise<void> {
    this.closing ??= this.flush().then(() => this.dropAll(this.root));
    return this.closing;
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.drain);
  }

  /**
   * Delivers one batch; what the handlers publish meanwhile waits for the next microtask.
   * A handler that publishes to its own subject forever therefore starves timers and I/O, as
   * any promise loop would.
   */
  private readonly drain = (): void => {
    const batch = this.queue;
    this.queue = [];
    for (const pending of batch) {
      if (typeof pending === 'function') pending();
      else this.deliver(pending.subject, pending.payload, pending.subscriptions);
    }

    if (this.queue.length > 0) queueMicrotask(this.drain);
    else this.scheduled = false;
  };

  private deliver(subject: string, payload: BusPayload, subscriptions: Subscription[]): void {
    for (const subscription of subscriptions) {
      if (!subscription.active) continue;
      try {
        subscription.handler(payload, subject);
      } catch (err) {
        this.report(err, subject);
      }
    }
  }

  private report(err: unknown, subject: string): void {
    try {
      this.onError(err, subject);
    } catch {
      // A failing error reporter has nowhere further to report to; letting it escape would
      // abandon the rest of the batch, which is the one thing this must not do.
    }
  }

  private remove(subscription: Subscription): void {
    if (!subscription.active) return;
    subscription.active = false;

    const path: Node[] = [this.root];
    for (const token of subscription.tokens) {
      const child = path[path.length - 1].children.get(token);
      if (!child) return;
      path.push(child);
    }
    path[path.length - 1].subscriptions.delete(subscription);

    // Prune the branches left empty, so subjects that come and go do not grow the tree.
    for (let depth = path.length - 1; depth > 0; depth--) {
      const node = path[depth];
      if (node.subscriptions.size > 0 || node.children.size > 0) break;
      path[depth - 1].children.delete(subscription.tokens[depth - 1]);
    }
  }

  private dropAll(node: Node): void {
    for (const subscription of node.subscriptions) subscription.active = false;
    node.subscriptions.clear();
    for (const child of node.children.values()) this.dropAll(child);
    node.children.clear();
  }
}

function newNode(): Node {
  return { children: new Map(), subscriptions: new Set() };
}

/** Adds to `out` every subscription under `node` whose pattern matches `tokens[index…]`. */
function collect(node: Node, tokens: string[], index: number, out: Subscription[]): void {
  if (index === tokens.length) {
    for (const subscription of node.subscriptions) out.push(subscription);
    return;
  }

  const exact = node.children.get(tokens[index]);
  if (exact) collect(exact, tokens, index + 1, out);
  const one = node.children.get('*');
  if (one) collect(one, tokens, index + 1, out);
  const rest = node.children.get('>');
  if (rest) for (const subscription of rest.subscriptions) out.push(subscription);
}
