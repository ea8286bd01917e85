/** Short names for a package's visibility; the package page shows the repository's own sentence. */

export const VISIBILITY_LABELS: Record<string, string> = {
  public: 'Public',
  customers: 'Signed-in people and agents',
  staff: 'Staff only',
  team: 'Agent team only',
  owners: 'Owners only',
};

export function visibilityLabel(visibility: string): string {
  return VISIBILITY_LABELS[visibility] ?? visibility;
}
