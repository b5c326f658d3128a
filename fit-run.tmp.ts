import { runIndexFit } from './bench/index-fit';
(async () => {
  const sizes = process.argv.slice(2).map(Number);
  const r = await runIndexFit({ sizes, dim: 512, workDir: '/tmp/h2/index-fit', log: (m) => process.stderr.write(`[index-fit] ${m}\n`) });
  console.log(JSON.stringify(r, null, 2));
})();
