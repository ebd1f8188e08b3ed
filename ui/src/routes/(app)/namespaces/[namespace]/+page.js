import { fetchNamespace } from '@temporalio/ui/services/namespaces-service';

export async function load({ params, parent }) {
  await parent();
  return { namespace: await fetchNamespace(params.namespace) };
}
