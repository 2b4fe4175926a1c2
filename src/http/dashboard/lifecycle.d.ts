// Types of `lifecycle.js`, the module the cns server makes from src/core/status.ts (see
// ../dashboard-files.ts): the dashboard imports the server's own lifecycle, never a copy of it.
export { FINAL_STATUSES, OPEN_STATUSES, TASK_STATUSES, TRANSITIONS } from '../../core/status.js';
