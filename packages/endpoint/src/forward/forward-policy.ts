/**
 * Whether an account's policy lets a person forward to a target: the one place that decides,
 * when a forward is asked for and again for every connection through it (so a policy changed
 * afterwards stops new connections at once).
 */
import type { ConsentPolicy } from '@tether/protocol';
import {
  entryCovers,
  formatTarget,
  refusedAddress,
  type Target,
} from '@tether/protocol/forward-target';
import type { Principal } from '../auth/principal.ts';

export type ForwardDecision =
  | { allowed: false; reason: string }
  /**
   * `listed`: a list entry named the target, so the agent may reach link-local addresses for
   * it. `ask`: staff go through the approvals (which apply allow / ask / pre-approve).
   */
  | { allowed: true; listed: boolean; ask: boolean };

/**
 * The literal target is checked here; a name is resolved and checked again by the agent, which
 * sees what it really connects to (a name resolving to 169.254.169.254 is refused there).
 */
export function decideForward(
  p: Principal,
  policy: ConsentPolicy,
  target: Target,
): ForwardDecision {
  const where = formatTarget(target);
  if (policy.forwardMode === 'off') return refuse('the account has switched port forwarding off');
  if (p.role === 'customer' && !policy.selfService)
    return refuse(
      'the account does not let its customers forward ports themselves (self-service is off)',
    );

  const listed = policy.forwardTargets.some((entry) => entryCovers(entry, target));
  if (policy.forwardTargets.length > 0 && !listed)
    return refuse(`${where} is not in the account's list of forward targets`);
  const refused = refusedAddress(target.host);
  if (refused && !listed)
    return refuse(`${target.host} is ${refused}; the account must list ${where} to allow it`);
  return { allowed: true, listed, ask: p.role !== 'customer' };
}

function refuse(reason: string): ForwardDecision {
  return { allowed: false, reason };
}
