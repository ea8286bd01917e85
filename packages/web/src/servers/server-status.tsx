/** A server's state in one badge: online, offline or revoked. */
import { Badge } from '@mantine/core';
import type { Agent } from '../api/types.ts';

export function ServerStatus({ agent }: { agent: Agent }) {
  if (agent.revokedAt)
    return (
      <Badge variant="outline" color="red">
        Revoked
      </Badge>
    );
  return agent.online ? (
    <Badge variant="dot" color="green">
      Online
    </Badge>
  ) : (
    <Badge variant="dot" color="gray">
      Offline
    </Badge>
  );
}
