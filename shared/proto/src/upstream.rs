//! [`Upstream`]: a client channel over every replica of the stage before us.
//!
//! Kubernetes headless Services answer DNS with one A record per ready pod,
//! so the resolver task looks every configured name up again every few
//! seconds and feeds the difference into tonic's balancing channel: new pods
//! get traffic without a restart, removed pods stop getting it. A failed
//! lookup keeps the last answer (a DNS blip must not empty the pool).
//!
//! The lookup itself is behind [`Resolve`] ([`SystemResolver`] by default),
//! so tests can change the answer while running and service-discovery
//! integrations can feed addresses from elsewhere.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

/// How to reach a stage's replicas.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `http://host:port` (or `host:port`), one per name to resolve.
    pub addrs: Vec<String>,
    /// How often every name is looked up again (5 s by default).
    pub resolve_every: Duration,
    /// Longest a connection to one replica may take (3 s by default); a
    /// [`RemoteStage`](crate::client::RemoteStage) gives a replica twice
    /// this to start answering a call.
    pub connect_timeout: Duration,
    /// HTTP/2 pings: a peer that vanished without a FIN (a killed node) is
    /// noticed within about twice this.
    pub keepalive: Duration,
}

impl UpstreamConfig {
    /// The replicas at `addrs`, with the default timings.
    pub fn new(addrs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            addrs: addrs.into_iter().map(Into::into).collect(),
            resolve_every: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            keepalive: Duration::from_secs(2),
        }
    }
}

/// An upstream address list that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No address at all.
    #[error("no upstream address given")]
    Empty,
    /// An address that is not `[http://]host:port`.
    #[error("upstream address {addr:?} is not host:port: {why}")]
    BadAddress {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        why: String,
    },
}

/// What [`Resolve::resolve`] returns: boxed so that `dyn Resolve` works.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Turns a configured `host`/`port` into the replicas' socket addresses.
/// Called once per name every [`UpstreamConfig::resolve_every`]; an `Err`
/// keeps the previous answer for that name.
pub trait Resolve: Send + Sync + 'static {
    /// The socket addresses `host` resolves to now, each with `port`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// The operating system's resolver (`tokio::net::lookup_host`): what
/// [`Upstream::new`] uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// A name to resolve, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
}

fn parse(addr: &str) -> Result<Target, UpstreamError> {
    let bad = |why: &str| UpstreamError::BadAddress {
        addr: addr.to_string(),
        why: why.to_string(),
    };
    let rest = addr.strip_prefix("http://").unwrap_or(addr);
    if rest.contains("://") {
        return Err(bad(
            "only http:// (plaintext gRPC inside the cluster) is supported",
        ));
    }
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("missing :port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port = port.parse().map_err(|_| bad("the port is not a number"))?;
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

/// A balanced channel plus the task that keeps its replica set current.
/// The task stops when the `Upstream` is dropped.
pub struct Upstream {
    channel: Channel,
    label: String,
    resolver: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.resolver.abort();
    }
}

impl Upstream {
    /// Must be called inside a tokio runtime. Connects lazily: a replica that
    /// is down makes calls fail fast and is dialled again on the next call.
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        Self::with_resolver(config, SystemResolver)
    }

    /// Like [`Upstream::new`], with the lookup done by `resolver` instead of
    /// the system's DNS: for tests that change the answer while running,
    /// and for service-discovery integrations. Must be called inside a
    /// tokio runtime.
    pub fn with_resolver(
        config: &UpstreamConfig,
        resolver: impl Resolve,
    ) -> Result<Self, UpstreamError> {
        let targets = config
            .addrs
            .iter()
            .flat_map(|a| a.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            return Err(UpstreamError::Empty);
        }
        let label = targets
            .iter()
            .map(|t| format!("{}:{}", t.host, t.port))
            .collect::<Vec<_>>()
            .join(",");
        let (channel, changes) = Channel::balance_channel(64);
        let resolver = tokio::spawn(resolve_forever(
            targets,
            config.clone(),
            Box::new(resolver),
            changes,
        ));
        Ok(Self {
            channel,
            label,
            resolver,
        })
    }

    /// The balanced channel over every replica currently resolved; cheap
    /// to clone, for building a generated client.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The configured names, for error messages and logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The `grpc.health.v1` status of each of `services` on one replica:
    /// serving, not serving, or `None` when the replica does not know (a
    /// relayed status it could not learn). `Err` when no replica answers
    /// within `within`.
    pub async fn statuses(
        &self,
        services: &[&str],
        within: Duration,
    ) -> Result<Vec<Option<bool>>, String> {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let mut client = HealthClient::new(self.channel());
        let mut statuses = Vec::with_capacity(services.len());
        for service in services {
            let request = HealthCheckRequest {
                service: (*service).to_string(),
            };
            match tokio::time::timeout(within, client.check(request)).await {
                Ok(Ok(response)) => {
                    let status = response.into_inner().status;
                    statuses.push(if status == ServingStatus::Serving as i32 {
                        Some(true)
                    } else if status == ServingStatus::NotServing as i32 {
                        Some(false)
                    } else {
                        None
                    })
                }
                Ok(Err(status)) if status.code() == tonic::Code::NotFound => statuses.push(None),
                Ok(Err(status)) => return Err(status.message().to_string()),
                Err(_) => return Err(format!("no answer within {within:?}")),
            }
        }
        Ok(statuses)
    }

    /// Whether a replica answers `grpc.health.v1` with SERVING for
    /// `service` within `within` (a gateway is ready only then).
    pub async fn is_serving(&self, service: &str, within: Duration) -> bool {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let mut client = HealthClient::new(self.channel());
        let request = HealthCheckRequest {
            service: service.to_string(),
        };
        match tokio::time::timeout(within, client.check(request)).await {
            Ok(Ok(response)) => response.into_inner().status == ServingStatus::Serving as i32,
            _ => false,
        }
    }
}

/// The own health (service "") of the one server at `url`, as a single
/// call within `within` answers it: `Some(true)` SERVING, `Some(false)`
/// NOT_SERVING, `None` no answer (down, refusing, not a gRPC server).
pub async fn server_health(url: &str, within: Duration) -> Option<bool> {
    let link = Upstream::new(&UpstreamConfig::new([url])).ok()?;
    match link.statuses(&[""], within).await {
        Ok(statuses) => statuses.first().copied().flatten(),
        Err(_) => None,
    }
}

/// Asks the server at `url` for its own health every `every` until
/// `wanted(health)` holds, for at most `patience`; whether it came to hold
/// (a start-up that must turn SERVING, a shutdown that must stop it).
pub async fn await_health(
    url: &str,
    patience: Duration,
    every: Duration,
    wanted: impl Fn(Option<bool>) -> bool,
) -> bool {
    tokio::time::timeout(patience, async {
        while !wanted(server_health(url, Duration::from_secs(1)).await) {
            tokio::time::sleep(every).await;
        }
    })
    .await
    .is_ok()
}

fn endpoint(addr: SocketAddr, config: &UpstreamConfig) -> Option<Endpoint> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).ok()?;
    Some(
        endpoint
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(config.keepalive)
            .keep_alive_timeout(config.keepalive)
            .keep_alive_while_idle(true)
            // Frames are megabytes: a larger window keeps the pipe full.
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(16 << 20)),
    )
}

async fn resolve_forever(
    targets: Vec<Target>,
    config: UpstreamConfig,
    resolver: Box<dyn Resolve>,
    changes: Sender<Change<SocketAddr, Endpoint>>,
) {
    let mut last: HashMap<usize, BTreeSet<SocketAddr>> = HashMap::new();
    let mut live: BTreeSet<SocketAddr> = BTreeSet::new();
    loop {
        for (i, target) in targets.iter().enumerate() {
            match resolver.resolve(&target.host, target.port).await {
                Ok(addrs) => {
                    last.insert(i, addrs.into_iter().collect());
                }
                Err(e) => tracing::warn!(
                    host = %target.host, error = %e,
                    "Upstream lookup failed; keeping the last answer."
                ),
            }
        }
        let wanted: BTreeSet<SocketAddr> = last.values().flatten().copied().collect();
        for gone in live.difference(&wanted) {
            tracing::info!(addr = %gone, "Upstream replica removed.");
            if changes.send(Change::Remove(*gone)).await.is_err() {
                return; // the channel was dropped
            }
        }
        for new in wanted.difference(&live) {
            let Some(endpoint) = endpoint(*new, &config) else {
                continue;
            };
            tracing::info!(addr = %new, "Upstream replica added.");
            if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                return;
            }
        }
        live = wanted;
        tokio::time::sleep(config.resolve_every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_or_without_scheme() {
        assert_eq!(
            parse("http://infer:50051").unwrap(),
            Target {
                host: "infer".into(),
                port: 50051
            }
        );
        assert_eq!(parse("127.0.0.1:7").unwrap().port, 7);
        assert_eq!(parse("[::1]:9").unwrap().host, "::1");
        assert!(parse("https://x:1").is_err());
        assert!(parse("infer").is_err());
        assert!(parse(":50051").is_err());
        assert!(parse("infer:http").is_err());
    }

    #[tokio::test]
    async fn comma_separated_lists_and_empty_lists() {
        let up = Upstream::new(&UpstreamConfig::new(["http://a:1, b:2"])).unwrap();
        assert_eq!(up.label(), "a:1,b:2");
        assert!(matches!(
            Upstream::new(&UpstreamConfig::new([" , "])),
            Err(UpstreamError::Empty)
        ));
    }
}
