/** A link that leads nowhere: say so and offer the way back. */
import { Button } from '@mantine/core';
import { Link } from 'react-router';
import { EmptyState } from '../common/states.tsx';

export function NotFoundPage() {
  return (
    <EmptyState
      title="There is no page here"
      action={
        <Button component={Link} to="/servers">
          Go to your servers
        </Button>
      }
    >
      The link may be mistyped or out of date.
    </EmptyState>
  );
}
