import { main } from './cni-plugin.js';

process.exitCode = await main();
