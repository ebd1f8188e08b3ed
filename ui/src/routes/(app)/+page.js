import { redirect } from '@sveltejs/kit';

import { routeForWorkflows } from '@temporalio/ui/utilities/route-for';

// `/` opens the default namespace's workflows (the settings name it: `default`).
export async function load({ parent }) {
  const { settings } = await parent();
  redirect(302, routeForWorkflows({ namespace: settings?.defaultNamespace || 'default' }));
}
