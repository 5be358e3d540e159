// No DOM here: the tests compare the page's colours with these.

/** The colour of each task / run / attempt status. */
export const STATUS_COLOURS: Record<string, string> = {
  PENDING: '#9aa5b1',
  CREATED: '#9aa5b1',
  SUBMITTED: '#7cb4f5',
  WAITING_EXTERNAL: '#f0b429',
  RUNNING: '#2f80ed',
  PAUSED: '#f0b429',
  COMPLETED: '#27ae60',
  FAILED: '#e03131',
  FAILED_INIT: '#e03131',
  CANCELLED: '#6c757d',
  SKIPPED: '#ced4da',
};
