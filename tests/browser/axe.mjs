// axe-core's WCAG checks on a playwright page: its violations by rule, impact and node count.
// The page's context must bypass its content security policy, which refuses the added script.
export async function axeViolations(page) {
  await page.addScriptTag({ path: new URL('./node_modules/axe-core/axe.min.js', import.meta.url).pathname });
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
  return violations.map(({ id, impact, nodes }) => ({ id, impact, nodes: nodes.length }));
}
