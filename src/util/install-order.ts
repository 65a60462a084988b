/**
 * Install order for a dependency graph: dependencies before dependents, the
 * smallest name first among packages that are ready. When every remaining
 * package waits on another (a cycle), the cycle is broken at a package whose
 * unmet dependencies all lie on its own cycle, found depth first from the
 * smallest waiting name, so edges leaving the cycle are still honoured.
 * Used by both families' resolvers (Debian Depends/Pre-Depends, Alpine D:).
 */
import { byName } from './compare.js';

export function installOrder(dependsOn: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const waitingOn = new Map([...dependsOn].map(([name, deps]) => [name, new Set([...deps].filter((d) => dependsOn.has(d)))]));
  const dependents = new Map<string, string[]>();
  for (const [name, deps] of waitingOn) for (const dep of deps) dependents.set(dep, [...(dependents.get(dep) ?? []), name]);
  const order: string[] = [];
  while (waitingOn.size > 0) {
    let next: string | undefined;
    for (const [name, deps] of waitingOn) if (deps.size === 0 && (next === undefined || name < next)) next = name;
    next ??= cycleBreaker(waitingOn);
    order.push(next);
    waitingOn.delete(next);
    for (const d of dependents.get(next) ?? []) waitingOn.get(d)?.delete(next);
  }
  return order;
}

function cycleBreaker(waitingOn: Map<string, Set<string>>): string {
  const walk = [[...waitingOn.keys()].sort(byName)[0]!];
  const onWalk = new Set(walk);
  for (;;) {
    const top = walk[walk.length - 1]!;
    const next = [...waitingOn.get(top)!].sort(byName).find((d) => !onWalk.has(d));
    if (next === undefined) return top;
    walk.push(next);
    onWalk.add(next);
  }
}
