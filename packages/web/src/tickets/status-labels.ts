/** How each ticket status reads, in the lists and on the ticket page. */
import type { TicketStatus } from '../api/types.ts';

export const STATUS_LABELS: Record<TicketStatus, { label: string; color: string }> = {
  open: { label: 'Waiting', color: 'yellow' },
  taken: { label: 'Being worked', color: 'blue' },
  closed: { label: 'Closed', color: 'gray' },
};
