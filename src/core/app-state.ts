import type { Instance } from '../events/schemas.ts';
import { sameInstances } from './app-placement.ts';
import { isWeb } from './formation.ts';
import type { AppDocument, AppStatus } from '../store/app-document.ts';

/**
 * The observed state of an app (`status`, `instances`, `release`, `lastError`…) has one owner:
 * these named transitions. Each is pure: given the document as it is now, it returns the next
 * one, or undefined when it does not apply (the app is being deleted, a newer deploy took over,
 * the instance is already gone…), which leaves the document alone. The write path
 * (store/app-state-writes.ts) applies one with compare-and-set and, on a conflict, applies it
 * again to the fresh document, so a change made meanwhile by another node is never overwritten.
 * docs/architecture/state-machines.md draws them.
 */
export interface AppTransition {
  /** For logs and the docs: the function that made it. */
  readonly name: string;
  /** The next document, or undefined to leave this one unchanged. */
  apply(doc: AppDocument): AppDocument | undefined;
  /**
   * Whether the transition changes what serves the app: the `app.instances` event is then
   * appended in the same Redis call as the document (when the app has a release to announce).
   */
  readonly announces: boolean;
}

const transition = (
  name: string,
  announces: boolean,
  apply: (doc: AppDocument) => AppDocument | undefined,
): AppTransition => ({ name, announces, apply });

/** Every writer but the deletion leaves an app in `deleting` alone. */
const deleting = (doc: AppDocument) => doc.status === 'deleting';

/** Only while `when` holds of the current document: a guard added by whoever applies it. */
export function onlyIf(when: (doc: AppDocument) => boolean, then: AppTransition): AppTransition {
  return transition(then.name, then.announces, (d) => (when(d) ? then.apply(d) : undefined));
}

/** `DELETE /apps/:name`: the intent, written first, so a deploy still running does not bring the app back. */
export function deletionRequested(): AppTransition {
  return transition('deletionRequested', false, (d) => ({ ...d, status: 'deleting' }));
}

/**
 * A redeploy was asked for (`release` is the new one): an app that never ran is `queued` again;
 * one with a release keeps its status, and serves, until the switch.
 */
export function deployRequested(release: string): AppTransition {
  return transition('deployRequested', false, (d) =>
    deleting(d) ? undefined : { ...d, pendingRelease: release, status: d.release ? d.status : 'queued' },
  );
}

/** The deploy job starts work (it stays `deploying` while BullMQ retries a transient failure). */
export function deploying(): AppTransition {
  return transition('deploying', false, (d) => (deleting(d) ? undefined : { ...d, status: 'deploying' }));
}

/** What a switch sets besides the instances. */
export interface SwitchTo {
  release: string;
  /** The commit now serving (a deploy's clone; a rollback's record). */
  commit?: string;
  /** A deploy's switch ends its pending release; an operation's leaves a newer pending deploy alone. */
  endsPendingRelease: boolean;
  /** Desired state restored with the release (a rollback restores its configuration). */
  restored?: Partial<AppDocument>;
  /** What the release runs (core/formation.ts); unset: a release from before process types, web only. */
  formation?: Record<string, number>;
}

/**
 * Every node's share of a rollout is healthy: the app serves `instances` (all nodes' web
 * instances) of `to.release`, `running`, with no error; the other process types start after it
 * (`processesStarted`). Does nothing if it already serves exactly those (an app with no web
 * process switches to none: the release and status say whether it did already).
 */
export function switched(instances: readonly Instance[], to: SwitchTo): AppTransition {
  return transition('switched', true, ({ formation: _before, ...d }) =>
    sameInstances(d.instances.filter(isWeb), instances) &&
    (instances.length > 0 || (d.release === to.release && d.status === 'running'))
      ? undefined
      : {
          ...d,
          ...to.restored,
          status: 'running',
          release: to.release,
          ...(to.commit !== undefined ? { commit: to.commit } : {}),
          instances: [...instances],
          // The formation is the release's: one from before process types has none (web only).
          ...(to.formation ? { formation: to.formation } : {}),
          lastError: undefined,
          ...(to.endsPendingRelease ? { pendingRelease: undefined } : {}),
        },
  );
}

/**
 * A node started its containers of the process types other than `web` for `release`, after the
 * switch: they join the app's instances (not routed: the proxy routes `web` only), replacing any
 * of the same names. Only while the app runs `release`.
 */
export function processesStarted(release: string, started: readonly Instance[]): AppTransition {
  const names = new Set(started.map((i) => i.container));
  return transition('processesStarted', true, (d) =>
    d.status !== 'running' || d.release !== release || started.length === 0
      ? undefined
      : { ...d, instances: [...d.instances.filter((i) => !names.has(i.container)), ...started] },
  );
}

/**
 * The last attempt of the deploy of `release` failed. The app keeps serving its current release
 * if it has one (and keeps `statusBefore` when that was `stopped` or `crashed`); one that never
 * ran is `failed`. `lastError` says why. A deploy superseded meanwhile changes nothing.
 */
export function deployFailed(release: string, message: string, statusBefore: AppStatus): AppTransition {
  return transition('deployFailed', false, (d) =>
    deleting(d) || d.pendingRelease !== release
      ? undefined
      : {
          ...d,
          status: d.release
            ? statusBefore === 'stopped' || statusBefore === 'crashed'
              ? statusBefore
              : 'running'
            : 'failed',
          lastError: message,
          pendingRelease: undefined,
        },
  );
}

/** A restart, start or rollback failed for good: the serving instances keep serving; `lastError` says why. */
export function operationFailed(op: string, message: string): AppTransition {
  return transition('operationFailed', false, (d) =>
    deleting(d) ? undefined : { ...d, lastError: `${op} failed: ${message}` },
  );
}

/** The stop job on `node`: the app is `stopped` and that node's instances leave the proxy. */
export function stopped(node: string): AppTransition {
  return transition('stopped', true, (d) =>
    deleting(d) ? undefined : { ...d, status: 'stopped', instances: d.instances.filter((i) => i.node !== node) },
  );
}

/**
 * An instance of `release` of a running app failed (crashed, unhealthy, or its container is
 * gone): it leaves the proxy. When the supervisor gives up on it (`givenUp`) and no instance is
 * left, the app is `crashed`. Only for a running app: a stop or a deletion meanwhile wins; and only
 * while the app still runs `release`: a failure noticed just before a switch to a newer release
 * is not that release's (its `lastError` stays unset).
 */
export function instanceLost(release: string, container: string, message: string, givenUp: boolean): AppTransition {
  return transition('instanceLost', true, (d) => {
    if (d.status !== 'running' || d.release !== release) return undefined;
    const instances = d.instances.filter((i) => i.container !== container);
    return { ...d, instances, status: givenUp && instances.length === 0 ? 'crashed' : 'running', lastError: message };
  });
}

/** A restarted instance of `release` is healthy again: it rejoins the proxy (if the app still runs that release). */
export function instanceBack(release: string, instance: Instance): AppTransition {
  return transition('instanceBack', true, (d) =>
    d.status !== 'running' || d.release !== release
      ? undefined
      : { ...d, instances: [...d.instances.filter((i) => i.container !== instance.container), instance] },
  );
}

/**
 * The disk watchdog stopped `containers` of `release` (over the disk limit): they leave the
 * proxy; a running app left with no instance is `crashed`. `lastError` says how much and why.
 */
export function overDiskLimit(release: string, containers: readonly string[], message: string): AppTransition {
  const gone = new Set(containers);
  return transition('overDiskLimit', true, (d) => {
    if (deleting(d) || d.release !== release) return undefined;
    const instances = d.instances.filter((i) => !gone.has(i.container));
    return {
      ...d,
      instances,
      status: instances.length === 0 && d.status === 'running' ? 'crashed' : d.status,
      lastError: message,
    };
  });
}
