/** People's roles; what each may see is decided in the endpoint's visibility module. */
import { z } from 'zod';

export const ROLES = ['admin', 'manager', 'engineer', 'customer'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;
