/** The `sgpods-ptp` CNI plugin's executable entry (the node's CNI bin dir runs this file). */
import { main } from './ptp-plugin.js';

process.exitCode = await main();
