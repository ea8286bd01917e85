/** Role names as people read them. */
import type { Role } from '../api/types.ts';

export const ROLE_LABELS: Record<Role, string> = {
  admin: 'Admin',
  manager: 'Manager',
  engineer: 'Support engineer',
  customer: 'Customer',
};
