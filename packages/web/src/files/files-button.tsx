/** "Files" on the server and ticket pages: to the server's Files page, keeping the ticket. */
import { Button } from '@mantine/core';
import { IconFolder } from '@tabler/icons-react';
import { Link, useSearchParams } from 'react-router';
import type { Agent } from '../api/types.ts';

export function FilesButton({ agent, ticket }: { agent: Agent; ticket?: string }) {
  const [search] = useSearchParams();
  const forTicket = ticket ?? search.get('ticket');
  const to = `/servers/${encodeURIComponent(agent.id)}/files${forTicket ? `?ticket=${encodeURIComponent(forTicket)}` : ''}`;
  return (
    <Button
      variant="default"
      component={Link}
      to={to}
      leftSection={<IconFolder size={16} aria-hidden />}
    >
      Files
    </Button>
  );
}
