// Loads what every page of the library reads from `$page.data`: the UI settings (served by
// Perdure at /api/v1/settings), cluster and system info, and fills the namespaces store.
import { fetchCluster, fetchSystemInfo } from '@temporalio/ui/services/cluster-service';
import { fetchNamespaces } from '@temporalio/ui/services/namespaces-service';
import { fetchSettings } from '@temporalio/ui/services/settings-service';

import '../../app.css';

export async function load({ fetch }) {
  const settings = await fetchSettings(fetch);
  fetchNamespaces(settings, fetch);
  const [cluster, systemInfo] = await Promise.all([
    fetchCluster(settings, fetch),
    fetchSystemInfo(settings, fetch),
  ]);
  return { settings, cluster, systemInfo, user: {} };
}
