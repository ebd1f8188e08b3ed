//! `perdure start`'s configuration: every key is a flag, a `PERDURE_*` environment variable and
//! a key of the TOML file named by `--config`, in that order of precedence, then the default.
//! This module turns them into [`NodeOptions`] and refuses what cannot work, before anything
//! is bound or written.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::NodeOptions;

/// Flags of `perdure start` (each also read from its environment variable).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct StartArgs {
    /// TOML file with any of the keys below (snake_case), e.g. `node_id = 1`.
    #[arg(long, env = "PERDURE_CONFIG")]
    pub config: Option<PathBuf>,
    /// This node's id (>= 1), unique in the cluster and never reused for another data dir.
    #[arg(long, env = "PERDURE_NODE_ID")]
    pub node_id: Option<u64>,
    /// Temporal's gRPC API [default: 127.0.0.1:7233].
    #[arg(long, env = "PERDURE_API_ADDR")]
    pub api_addr: Option<String>,
    /// Node-to-node traffic: Raft and forwarded calls [default: 127.0.0.1:7333].
    #[arg(long, env = "PERDURE_INTERNAL_ADDR")]
    pub internal_addr: Option<String>,
    /// /health, /metrics, /cluster; `off` disables [default: 127.0.0.1:7243].
    #[arg(long, env = "PERDURE_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// All state of this node [default: ./perdure-data].
    #[arg(long, env = "PERDURE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Initial members as `id=internal-addr,...`, this node included [default: this node only].
    #[arg(long, env = "PERDURE_PEERS")]
    pub peers: Option<String>,
    /// Internal address of a member of a running cluster to join through (instead of --peers).
    /// The node registers its --internal-addr, so that must be reachable by the others.
    #[arg(long, env = "PERDURE_JOIN")]
    pub join: Option<String>,
    /// History shards, fixed when the cluster is created [default: 16].
    #[arg(long, env = "PERDURE_SHARDS")]
    pub shards: Option<u32>,
    /// Replicas per shard [default: 3, or the cluster size when smaller].
    #[arg(long, env = "PERDURE_REPLICATION")]
    pub replication: Option<u32>,
    /// Shared secret every internal call must carry (required with more than one peer).
    #[arg(long, env = "PERDURE_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// Snapshot each group every this many log entries and compact its log [default: 10000].
    #[arg(long, env = "PERDURE_SNAPSHOT_EVERY")]
    pub snapshot_every: Option<u64>,
    /// One of Temporal's dynamic-config keys Perdure honours, as `KEY=VALUE` (repeatable):
    /// `history.workflowIdReuseMinimalInterval=1s`.
    #[arg(long = "dynamic-config-value", value_name = "KEY=VALUE")]
    pub dynamic_config_value: Vec<String>,
    /// The built Web UI served at `/` on the HTTP port [default: ui/build of the repository
    /// the binary was built in].
    #[arg(long, env = "PERDURE_UI_DIR")]
    pub ui_dir: Option<PathBuf>,
}

/// The TOML file: the same keys as the flags.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    node_id: Option<u64>,
    api_addr: Option<String>,
    internal_addr: Option<String>,
    http_addr: Option<String>,
    data_dir: Option<PathBuf>,
    peers: Option<String>,
    join: Option<String>,
    shards: Option<u32>,
    replication: Option<u32>,
    cluster_secret: Option<String>,
    snapshot_every: Option<u64>,
    ui_dir: Option<PathBuf>,
}

const DEFAULT_REPLICATION: u32 = 3;

impl StartArgs {
    pub fn resolve(self) -> anyhow::Result<NodeOptions> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let node_id = self
            .node_id
            .or(file.node_id)
            .context("--node-id (or PERDURE_NODE_ID, or node_id in the config file) is required")?;
        if node_id == 0 {
            bail!("node id must be at least 1");
        }
        let join = match self.join.or(file.join) {
            Some(j) => Some(peer_address(j.trim()).context("--join: bad address")?),
            None => None,
        };
        let peers_given = self.peers.or(file.peers);
        if join.is_some() && peers_given.is_some() {
            bail!(
                "give either --peers (the initial members of a new cluster) or --join (a member \
                 of a running cluster), not both"
            );
        }
        let api_addr = addr(
            "api_addr",
            self.api_addr.or(file.api_addr).as_deref(),
            "127.0.0.1:7233",
        )?;
        let internal_addr = addr(
            "internal_addr",
            self.internal_addr.or(file.internal_addr).as_deref(),
            "127.0.0.1:7333",
        )?;
        let http_addr = match self.http_addr.or(file.http_addr).as_deref() {
            Some("off") | Some("") => None,
            other => Some(addr("http_addr", other, "127.0.0.1:7243")?),
        };
        let peers = match (peers_given, &join) {
            (Some(list), _) => parse_peers(&list)?,
            (None, Some(_)) => BTreeMap::new(),
            (None, None) => BTreeMap::from([(node_id, internal_addr.to_string())]),
        };
        if join.is_none() && !peers.contains_key(&node_id) {
            bail!("--peers does not list this node ({node_id})");
        }
        let replication = self
            .replication
            .or(file.replication)
            .unwrap_or(DEFAULT_REPLICATION);
        if replication == 0 {
            bail!("replication must be at least 1");
        }
        let secret = self
            .cluster_secret
            .or(file.cluster_secret)
            .unwrap_or_default();
        if (peers.len() > 1 || join.is_some()) && secret.is_empty() {
            bail!("a cluster of several nodes needs --cluster-secret (or PERDURE_CLUSTER_SECRET)");
        }
        let shards = self.shards.or(file.shards).unwrap_or(16);
        if shards == 0 {
            bail!("shard count must be at least 1");
        }
        let snapshot_every = self.snapshot_every.or(file.snapshot_every);
        if snapshot_every == Some(0) {
            bail!("snapshot_every must be at least 1");
        }
        Ok(NodeOptions {
            node_id,
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./perdure-data")),
            api_addr,
            internal_addr: Some(internal_addr),
            http_addr,
            peers,
            join,
            shards,
            replication,
            snapshot_every,
            secret,
            isolation: Default::default(),
            history: crate::dynamic_config::parse(&self.dynamic_config_value)?,
            ui_dir: self.ui_dir.or(file.ui_dir),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

fn addr(key: &str, value: Option<&str>, default: &str) -> anyhow::Result<SocketAddr> {
    let v = value.unwrap_or(default);
    v.parse()
        .with_context(|| format!("{key}: `{v}` is not an ip:port address"))
}

/// Parses `1=127.0.0.1:7333,2=127.0.0.1:7334`.
pub fn parse_peers(list: &str) -> anyhow::Result<BTreeMap<u64, String>> {
    let mut peers = BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, address) = item
            .split_once('=')
            .with_context(|| format!("peer `{item}` is not id=ip:port"))?;
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("peer `{item}`: bad node id"))?;
        if id == 0 {
            bail!("peer `{item}`: node ids start at 1");
        }
        let address =
            peer_address(address.trim()).with_context(|| format!("peer `{item}`: bad address"))?;
        if peers.insert(id, address).is_some() {
            bail!("node id {id} appears twice in --peers");
        }
    }
    if peers.is_empty() {
        bail!("--peers is empty");
    }
    let mut seen = std::collections::HashSet::new();
    for a in peers.values() {
        if !seen.insert(a) {
            bail!("address {a} appears twice in --peers");
        }
    }
    Ok(peers)
}

/// `ip:port` or `host:port` (host names, e.g. a StatefulSet's stable DNS names, are resolved
/// when connecting, so a rescheduled pod with a new IP is found again).
fn peer_address(a: &str) -> anyhow::Result<String> {
    if a.parse::<SocketAddr>().is_ok() {
        return Ok(a.to_string());
    }
    let (host, port) = a.rsplit_once(':').context("missing :port")?;
    port.parse::<u16>().context("bad port")?;
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !host_ok {
        bail!("`{host}` is neither an IP address nor a host name");
    }
    Ok(a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> StartArgs {
        StartArgs {
            node_id: Some(2),
            peers: Some("1=127.0.0.1:7333, 2=127.0.0.1:7334,3=127.0.0.1:7335".into()),
            cluster_secret: Some("s3cret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn flags_resolve_with_defaults() {
        let o = args().resolve().unwrap();
        assert_eq!(o.node_id, 2);
        assert_eq!(o.peers.len(), 3);
        assert_eq!(o.peers[&2], "127.0.0.1:7334");
        assert_eq!(o.shards, 16);
        assert_eq!(o.api_addr.to_string(), "127.0.0.1:7233");
        assert_eq!(o.http_addr.unwrap().to_string(), "127.0.0.1:7243");
        let dns = StartArgs {
            node_id: Some(1),
            peers: Some("1=perdure-0.perdure.default.svc.cluster.local:7333".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            dns.peers[&1],
            "perdure-0.perdure.default.svc.cluster.local:7333"
        );
    }

    #[test]
    fn the_file_fills_what_flags_leave_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perdure.toml");
        std::fs::write(
            &path,
            "node_id = 9\nshards = 4\nhttp_addr = \"off\"\nui_dir = \"/srv/perdure-ui\"\n",
        )
        .unwrap();
        let o = StartArgs {
            config: Some(path),
            shards: None,
            ..args()
        }
        .resolve()
        .unwrap();
        // The flag wins over the file for node_id; the file gives shards, http and the UI.
        assert_eq!(o.node_id, 2);
        assert_eq!(o.shards, 4);
        assert!(o.http_addr.is_none());
        assert_eq!(o.ui_dir, Some(PathBuf::from("/srv/perdure-ui")));
    }

    #[test]
    fn a_joining_node_needs_no_peers() {
        let o = StartArgs {
            node_id: Some(4),
            peers: None,
            join: Some("127.0.0.1:7333".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(o.join.as_deref(), Some("127.0.0.1:7333"));
        assert!(o.peers.is_empty());
    }

    #[test]
    fn misconfigurations_are_refused_with_a_reason() {
        let cases: Vec<(StartArgs, &str)> = vec![
            (
                StartArgs {
                    node_id: None,
                    ..args()
                },
                "required",
            ),
            (
                StartArgs {
                    node_id: Some(7),
                    ..args()
                },
                "does not list this node",
            ),
            (
                StartArgs {
                    cluster_secret: None,
                    ..args()
                },
                "cluster-secret",
            ),
            (
                StartArgs {
                    peers: Some("1=127.0.0.1:1,1=127.0.0.1:2".into()),
                    node_id: Some(1),
                    ..args()
                },
                "twice",
            ),
            (
                StartArgs {
                    peers: Some("1=127.0.0.1:1,2=127.0.0.1:1".into()),
                    node_id: Some(1),
                    ..args()
                },
                "twice",
            ),
            (
                StartArgs {
                    peers: Some("1=nowhere".into()),
                    node_id: Some(1),
                    ..args()
                },
                "bad address",
            ),
            (
                StartArgs {
                    peers: Some("1=bad_host!:7333".into()),
                    node_id: Some(1),
                    ..args()
                },
                "bad address",
            ),
            (
                StartArgs {
                    shards: Some(0),
                    ..args()
                },
                "at least 1",
            ),
            (
                StartArgs {
                    replication: Some(0),
                    ..args()
                },
                "replication",
            ),
            (
                StartArgs {
                    join: Some("127.0.0.1:7333".into()),
                    ..args()
                },
                "not both",
            ),
            (
                StartArgs {
                    join: Some("127.0.0.1:7333".into()),
                    peers: None,
                    cluster_secret: None,
                    ..args()
                },
                "cluster-secret",
            ),
            (
                StartArgs {
                    snapshot_every: Some(0),
                    ..args()
                },
                "snapshot_every",
            ),
        ];
        for (a, want) in cases {
            let err = format!("{:#}", a.resolve().unwrap_err());
            assert!(err.contains(want), "expected `{want}` in `{err}`");
        }
    }
}
