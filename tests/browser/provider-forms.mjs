// node-oidc-provider's own forms, as a person fills them: the login form (any password), then
// the consent form the first time. The page is on the provider when this is called.
export async function fillProviderForms(page, login) {
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.waitForLoadState();
  if (await page.locator('input[name=prompt][value=consent]').count()) {
    await page.click('button[type=submit]');
  }
}
