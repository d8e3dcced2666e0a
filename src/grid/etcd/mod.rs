//! The etcd coordinator (feature `etcd`): the [`Coordinator`] trait over etcd's v3 JSON
//! gateway on HTTP/1 — leases, transactions, watches and the election API — with the same
//! semantics as the simulated coordinator.
//!
//! Why the gateway and not `etcd-client`: that crate needs `protoc` at build time and some
//! ninety crates (tonic, prost, hyper); the gateway speaks JSON over plain HTTP/1, which
//! this module does with `httparse`, `serde_json` and `base64`, over any [`Transport`].
//!
//! - A registration is one transaction: *if the key's create revision is 0, put it under
//!   the lease, else read it*; its fence is the put's revision, which is the key's create
//!   revision. The same lease registering its own key again gets the same fence.
//! - A deregistration is a transaction comparing the create revision with the fence.
//! - A watch reads the prefix at revision `r`, then watches from `r + 1` with previous
//!   values (a delete carries the fence of the registration it ended); a reader task feeds
//!   the events into a bounded channel and ends the stream if the watcher falls
//!   [`WATCH_BUFFER`] events behind or the connection breaks.
//! - Campaign, leader and resign are etcd's election API; a candidacy's key is
//!   `election/<lease in hex>`, as [`candidate_key`](super::coordinator::candidate_key)
//!   makes it. Dropping a campaign closes its connection, and etcd withdraws it.
//!
//! etcd counts lease TTLs in whole seconds: a TTL is rounded up.

mod http;

use std::future::Future;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use self::http::{call, post, server_error, CallError};
use super::coordinator::{CoordError, Coordinator, Fence, LeaseId, Registration, WatchEvent};
use super::simulated::WATCH_BUFFER;
use crate::net::{Tcp, Transport};
use crate::rt::{Runtime, Sender, TrySendError};

/// A client of one etcd member's gateway at `host:port`.
#[derive(Debug, Clone)]
pub struct Etcd<R: Runtime, T: Transport = Tcp> {
    rt: R,
    transport: T,
    address: String,
    timeout: Duration,
}

impl<R: Runtime> Etcd<R, Tcp> {
    /// A client of the gateway at `address` over TCP, giving up a call after 5 s.
    pub fn new(rt: R, address: &str) -> Self {
        Self::over(rt, Tcp, address)
    }
}

impl<R: Runtime, T: Transport> Etcd<R, T> {
    /// A client of the gateway at `address` over `transport`, giving up a call after 5 s.
    pub fn over(rt: R, transport: T, address: &str) -> Self {
        Self {
            rt,
            transport,
            address: address.to_string(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Gives up a call (other than a campaign, which waits to lead) after `timeout`: it may
    /// have been applied.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn request(&self, path: &str, body: Value) -> Result<Value, CallError> {
        let called = call(&self.transport, &self.address, path, &body);
        match self.rt.timeout(self.timeout, called).await {
            Ok(answer) => answer,
            Err(_) => Err(CallError::NoAnswer("the call timed out".into())),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn bytes(value: &Value) -> Vec<u8> {
    value
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .unwrap_or_default()
}

/// An int64 of the gateway (a JSON string), 0 when absent.
fn int(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The end of the range of keys that start with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn registration(kv: &Value) -> Registration {
    Registration {
        key: String::from_utf8_lossy(&bytes(&kv["key"])).into_owned(),
        value: bytes(&kv["value"]),
        lease: LeaseId(int(&kv["lease"])),
        fence: Fence(int(&kv["create_revision"])),
    }
}

/// gRPC codes after which etcd may have applied the request: cancelled, unknown, deadline
/// exceeded, unavailable (a proposal that timed out can still commit).
const MAYBE_APPLIED: [u64; 4] = [1, 2, 4, 14];

/// A failed call as the coordinator's error; etcd's NotFound on a lease is `LeaseGone`.
fn failed(error: CallError, lease: Option<LeaseId>) -> CoordError {
    match error {
        CallError::Unreachable(_) => CoordError::Unavailable,
        CallError::NoAnswer(_) => CoordError::MaybeApplied,
        CallError::Server { code: 5, message } if message.contains("lease") => {
            CoordError::LeaseGone(lease.unwrap_or(LeaseId(0)))
        }
        CallError::Server { code, .. } if MAYBE_APPLIED.contains(&code) => CoordError::MaybeApplied,
        CallError::Server { .. } => CoordError::Unavailable,
    }
}

impl<R: Runtime, T: Transport> Coordinator for Etcd<R, T> {
    type Watch = R::Receiver<WatchEvent>;

    fn grant(&self, ttl: Duration) -> impl Future<Output = Result<LeaseId, CoordError>> + Send {
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        async move {
            let granted = self
                .request("/v3/lease/grant", json!({ "TTL": seconds.max(1) }))
                .await;
            Ok(LeaseId(int(&granted.map_err(|e| failed(e, None))?["ID"])))
        }
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<Duration, CoordError> {
        let body = json!({ "ID": lease.0.to_string() });
        let kept = self.request("/v3/lease/keepalive", body).await;
        let kept = kept.map_err(|e| failed(e, Some(lease)))?;
        match int(&kept["result"]["TTL"]) {
            0 => Err(CoordError::LeaseGone(lease)),
            ttl => Ok(Duration::from_secs(ttl)),
        }
    }

    async fn revoke(&self, lease: LeaseId) -> Result<(), CoordError> {
        let body = json!({ "ID": lease.0.to_string() });
        let revoked = self.request("/v3/lease/revoke", body).await;
        revoked.map(drop).map_err(|e| failed(e, Some(lease)))
    }

    fn register(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send {
        let key = b64(key.as_bytes());
        async move {
            let body = json!({
                "compare": [{ "key": key, "target": "CREATE", "create_revision": "0" }],
                "success": [{ "request_put": { "key": key, "value": b64(&value), "lease": lease.0.to_string() } }],
                "failure": [{ "request_range": { "key": key } }],
            });
            let done = self.request("/v3/kv/txn", body).await;
            let done = done.map_err(|e| failed(e, Some(lease)))?;
            if done["succeeded"].as_bool() == Some(true) {
                return Ok(Fence(int(&done["header"]["revision"])));
            }
            let held = &done["responses"][0]["response_range"]["kvs"][0];
            match registration(held) {
                mine if mine.lease == lease => Ok(mine.fence),
                theirs if theirs.fence.0 > 0 => Err(CoordError::Taken(theirs)),
                _ => Err(CoordError::MaybeApplied),
            }
        }
    }

    fn deregister(
        &self,
        key: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), CoordError>> + Send {
        let (owned, key) = (key.to_string(), b64(key.as_bytes()));
        async move {
            let body = json!({
                "compare": [{ "key": key, "target": "CREATE", "create_revision": fence.0.to_string() }],
                "success": [{ "request_delete_range": { "key": key } }],
            });
            let done = self
                .request("/v3/kv/txn", body)
                .await
                .map_err(|e| failed(e, None))?;
            match done["succeeded"].as_bool() {
                Some(true) => Ok(()),
                _ => Err(CoordError::NotOwner { key: owned, fence }),
            }
        }
    }

    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send {
        let key = b64(key.as_bytes());
        async move {
            let read = self.request("/v3/kv/range", json!({ "key": key })).await;
            let read = read.map_err(|e| failed(e, None))?;
            Ok(read["kvs"]
                .as_array()
                .and_then(|kvs| kvs.first())
                .map(registration))
        }
    }

    fn watch(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<(Vec<Registration>, Self::Watch), CoordError>> + Send {
        let (key, end) = (b64(prefix.as_bytes()), b64(&prefix_end(prefix.as_bytes())));
        async move {
            let read = self
                .request("/v3/kv/range", json!({ "key": key, "range_end": end }))
                .await;
            let read = read.map_err(|e| failed(e, None))?;
            let snapshot = read["kvs"]
                .as_array()
                .map(|kvs| kvs.iter().map(registration).collect());
            let from = int(&read["header"]["revision"]) + 1;
            let create = json!({ "create_request": {
                "key": key, "range_end": end, "prev_kv": true, "start_revision": from.to_string(),
            }});
            let opened = post(&self.transport, &self.address, "/v3/watch", &create);
            let stream = match self.rt.timeout(self.timeout, opened).await {
                Ok(stream) => stream.map_err(|e| failed(e, None))?,
                Err(_) => return Err(CoordError::Unavailable),
            };
            let (events, watch) = self.rt.channel("etcd/watch", WATCH_BUFFER);
            let _reader = self.rt.spawn("etcd/watch", follow::<R, T>(stream, events));
            Ok((snapshot.unwrap_or_default(), watch))
        }
    }

    fn campaign(
        &self,
        election: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send {
        let name = b64(election.as_bytes());
        async move {
            let body = json!({ "name": name, "lease": lease.0.to_string(), "value": b64(&value) });
            let won = call(
                &self.transport,
                &self.address,
                "/v3/election/campaign",
                &body,
            )
            .await;
            let won = won.map_err(|e| failed(e, Some(lease)))?;
            match int(&won["leader"]["rev"]) {
                0 => Err(CoordError::MaybeApplied),
                rev => Ok(Fence(rev)),
            }
        }
    }

    fn leader(
        &self,
        election: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send {
        let name = b64(election.as_bytes());
        async move {
            match self
                .request("/v3/election/leader", json!({ "name": name }))
                .await
            {
                Ok(found) => Ok(Some(registration(&found["kv"]))),
                Err(CallError::Server { message, .. }) if message.contains("no leader") => Ok(None),
                Err(other) => Err(failed(other, None)),
            }
        }
    }
}

/// Feeds a watch's events into `events` until the connection ends, the watcher goes away,
/// or it falls a buffer behind — then drops `events`, which ends the watcher's stream.
async fn follow<R: Runtime, T: Transport>(
    mut stream: http::Answer<T::Stream>,
    events: R::Sender<WatchEvent>,
) {
    let mut line = Vec::new();
    loop {
        let data = crate::select! {
            () = events.closed() => return,
            data = stream.next_data() => data,
        };
        let Ok(Some(data)) = data else { return };
        line.extend_from_slice(&data);
        while let Some(end) = line.iter().position(|&b| b == b'\n') {
            let whole: Vec<u8> = line.drain(..=end).collect();
            let Ok(message) = serde_json::from_slice::<Value>(&whole) else {
                return;
            };
            if server_error(&message).is_some()
                || message["result"]["canceled"].as_bool() == Some(true)
            {
                return;
            }
            for event in message["result"]["events"].as_array().into_iter().flatten() {
                if let Err(TrySendError::Full(_) | TrySendError::Closed(_)) =
                    events.try_send(watch_event(event))
                {
                    return;
                }
            }
        }
    }
}

fn watch_event(event: &Value) -> WatchEvent {
    match event["type"].as_str() {
        Some("DELETE") => WatchEvent::Delete {
            key: String::from_utf8_lossy(&bytes(&event["kv"]["key"])).into_owned(),
            fence: Fence(int(&event["prev_kv"]["create_revision"])),
        },
        _ => WatchEvent::Put(registration(&event["kv"])),
    }
}
