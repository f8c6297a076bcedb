//! Cedar mode (feature `cedar`, `POLICY_LANGUAGE=cedar`): the policy set the deploy stores in
//! one item of the policy table (a [`groupgate_cedar::CedarBundle`]), read and validated once
//! per TTL, and the policy returned for a Cedar decision.
//!
//! The set is read at start-up and kept for `POLICY_CACHE_TTL_SECONDS`, as the group policies
//! are. What a read finds is kept for the TTL, good or bad: a valid set, or the item missing or
//! invalid (each a failure of every request, a 500, naming why, never an Allow; keeping it saves
//! re-reading and re-validating a bad item on every request). A read that fails (throttling, a
//! timeout) is not kept: the next request reads again. Once the TTL has passed the last good set
//! is not used any more, whatever the re-read gives, as the group policies' cache does: a policy
//! change that takes a permission away must take effect within the TTL, and a table that cannot
//! be read (or holds a broken set) must not extend an old permission for as long as it lasts.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use groupgate_cedar::{CallerPool, CedarBundle, CedarCaller, CedarDecision, CedarPolicyStore};
use groupgate_shared::{Error, MethodArn};
use serde::Serialize;
use tokio::time::Instant;

use crate::record::ReasonCode;

/// What the policy table holds under the bundle's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleItem {
    /// No item.
    Missing,
    /// The bundle's JSON text.
    Text(String),
    /// An item whose bundle attribute is missing or not a string, and which.
    Malformed(String),
}

/// A future of a [`BundleSource`] read.
pub type BundleRead<'a> = Pin<Box<dyn Future<Output = Result<BundleItem, Error>> + Send + 'a>>;

/// Where the bundle is read from: the policy table in production, a double in tests. Read once
/// per TTL at most, so the boxed future costs nothing that counts.
pub trait BundleSource: Send + Sync {
    fn read(&self) -> BundleRead<'_>;
}

/// Why there is no policy set to decide with.
#[derive(Debug, Clone)]
pub enum BundleError {
    /// The table could not be read (not kept: the next request reads again).
    Store(Arc<Error>),
    /// The table has no bundle item: the deploy has not stored one.
    Missing,
    /// The item or the set in it is not valid, and why.
    Invalid(String),
}

impl BundleError {
    pub fn reason(&self) -> ReasonCode {
        match self {
            BundleError::Store(e) => ReasonCode::of_store_error(e),
            BundleError::Missing => ReasonCode::CedarBundleMissing,
            BundleError::Invalid(_) => ReasonCode::CedarBundleInvalid,
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = groupgate_cedar::BUNDLE_KEY;
        match self {
            BundleError::Store(e) => write!(f, "reading the Cedar policies (`{key}`): {e}"),
            BundleError::Missing => write!(
                f,
                "the policy table has no Cedar policies (no item `{key}`): deploy them with `policy_language = \"cedar\"`"
            ),
            BundleError::Invalid(why) => {
                write!(f, "the Cedar policies (`{key}`) are refused: {why}")
            }
        }
    }
}

/// How many callers a policy set keeps built by default (see [`CedarSet`]).
pub const CALLERS_KEPT: usize = 1024;

/// How long a missing or invalid set is kept before it is read again, at most (the TTL when
/// shorter). Short: a deploy that switches a stack to Cedar starts the new function before it
/// writes the set, and every request fails until the set is read again; kept at all, so that a
/// bad item is not read and validated again on every request.
pub const FAILED_SET_KEPT: Duration = Duration::from_secs(2);

/// A policy set read from the table, and the callers built for it: a caller's Cedar entities
/// (`User::"{sub}"` with its groups as parents) cost as much to build as the decision itself,
/// and a warm function sees the same callers again. They are kept with the set, so for its TTL
/// at most, keyed by the sub, the exact list of policy keys and the pool (and the pool's groups
/// when the policies name groups by pool): a caller whose groups changed is built again. At
/// most `capacity` of them are kept: when full, all are dropped and it fills again.
pub struct CedarSet {
    store: CedarPolicyStore,
    capacity: usize,
    callers: Mutex<HashMap<String, KeptCaller>>,
}

/// A built caller under its sub, with what it was built for.
struct KeptCaller {
    keys: Vec<String>,
    pool: String,
    /// The pool's groups, when the policies name groups by pool (else empty, and not compared).
    pool_groups: Vec<String>,
    caller: Arc<CedarCaller>,
}

impl CedarSet {
    fn new(store: CedarPolicyStore, capacity: usize) -> Self {
        Self {
            store,
            capacity,
            callers: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &CedarPolicyStore {
        &self.store
    }

    /// The decision for the caller `sub` of the user pool `pool` with the policy keys `keys`
    /// on `method` and the route `resource`; any error is a Deny (see
    /// [`CedarPolicyStore::decide`], and [`CedarPolicyStore::caller_in_pool`] for the pool).
    pub fn decide(
        &self,
        sub: &str,
        keys: &[String],
        pool: CallerPool<'_>,
        method: &str,
        resource: &str,
    ) -> CedarDecision {
        match self.caller(sub, keys, pool) {
            Ok(caller) => self.store.decide_for(&caller, method, resource),
            Err(e) => CedarDecision::failed(e),
        }
    }

    fn caller(
        &self,
        sub: &str,
        keys: &[String],
        pool: CallerPool<'_>,
    ) -> Result<Arc<CedarCaller>, String> {
        if self.capacity == 0 {
            return self.store.caller_of_keys(sub, keys, pool).map(Arc::new);
        }
        let by_pool = self.store.names_by_pool();
        if let Ok(callers) = self.callers.lock()
            && let Some(kept) = callers.get(sub)
            && kept.keys.as_slice() == keys
            && kept.pool == pool.id
            && (!by_pool || kept.pool_groups.as_slice() == pool.groups)
        {
            return Ok(Arc::clone(&kept.caller));
        }
        let caller = Arc::new(self.store.caller_of_keys(sub, keys, pool)?);
        // A poisoned lock only means the caller is not kept.
        if let Ok(mut callers) = self.callers.lock() {
            if callers.len() >= self.capacity {
                callers.clear();
            }
            let kept = KeptCaller {
                keys: keys.to_vec(),
                pool: pool.id.to_owned(),
                pool_groups: if by_pool {
                    pool.groups.to_vec()
                } else {
                    Vec::new()
                },
                caller: Arc::clone(&caller),
            };
            callers.insert(sub.to_owned(), kept);
        }
        Ok(caller)
    }
}

struct Kept {
    read_at: Instant,
    /// The TTL for a set that can be used, [`FAILED_SET_KEPT`] at most for one that cannot.
    keep_for: Duration,
    set: Result<Arc<CedarSet>, BundleError>,
}

/// The policy set to decide with, read from a [`BundleSource`] and kept for a TTL.
pub struct CedarSource {
    source: Box<dyn BundleSource>,
    ttl: Duration,
    callers_kept: usize,
    /// The user pools the authorizer trusts: a set naming another pool's users or groups
    /// (`{userPoolId}|…`) is refused.
    pools: Vec<String>,
    kept: RwLock<Option<Kept>>,
}

impl CedarSource {
    pub fn new(source: impl BundleSource + 'static, ttl: Duration) -> Self {
        Self {
            source: Box::new(source),
            ttl,
            callers_kept: CALLERS_KEPT,
            pools: Vec::new(),
            kept: RwLock::new(None),
        }
    }

    /// The same, keeping at most `callers` built callers per set (0: none, each decision builds
    /// its caller; the benchmark measures both).
    pub fn with_callers_kept(mut self, callers: usize) -> Self {
        self.callers_kept = callers;
        self
    }

    /// The same, trusting the user pools `pools` (`us-east-1_AbC`): a policy set may name
    /// their users and groups as Verified Permissions does (`us-east-1_AbC|admin`), and no
    /// other pool's. With none (the default), a set naming any pool is refused.
    pub fn trusting(mut self, pools: Vec<String>) -> Self {
        self.pools = pools;
        self
    }

    /// The set, from what was kept while it is younger than the TTL, else read again.
    pub async fn current(&self) -> Result<Arc<CedarSet>, BundleError> {
        {
            let kept = self.kept.read().map_err(|_| poisoned())?;
            if let Some(kept) = kept.as_ref()
                && kept.read_at.elapsed() < kept.keep_for
            {
                return kept.set.clone();
            }
        }
        self.refresh().await
    }

    /// Reads the set now (start-up's warm-up does, then each request past the TTL), keeps
    /// what it finds unless the read itself failed, and returns it.
    pub async fn refresh(&self) -> Result<Arc<CedarSet>, BundleError> {
        let read_at = Instant::now();
        let set = match self.source.read().await {
            Err(e) => return Err(BundleError::Store(Arc::new(e))),
            Ok(BundleItem::Missing) => Err(BundleError::Missing),
            Ok(BundleItem::Malformed(why)) => Err(BundleError::Invalid(why)),
            Ok(BundleItem::Text(text)) => CedarBundle::from_json(&text)
                .and_then(CedarBundle::into_store)
                .map_err(|e| BundleError::Invalid(e.to_string()))
                .and_then(|store| self.trusted(store))
                .map(|store| Arc::new(CedarSet::new(store, self.callers_kept))),
        };
        if let Err(e) = &set {
            tracing::error!(error = %e, "the Cedar policies cannot be used; every request fails until they can");
        }
        let mut kept = self.kept.write().map_err(|_| poisoned())?;
        *kept = Some(Kept {
            read_at,
            keep_for: if set.is_ok() {
                self.ttl
            } else {
                self.ttl.min(FAILED_SET_KEPT)
            },
            set: set.clone(),
        });
        set
    }
}

impl CedarSource {
    /// `store`, if every user pool its policies name is trusted. A policy naming a pool's
    /// group by an id no caller can have would never match: a `forbid` would deny no one, so
    /// the set is refused rather than decided with (a pool id mistyped, or copied from another
    /// stage's store).
    fn trusted(&self, store: CedarPolicyStore) -> Result<CedarPolicyStore, BundleError> {
        let named = &store.policies().named_ids().pools;
        match named.iter().find(|pool| !self.pools.contains(pool)) {
            None => Ok(store),
            Some(pool) => Err(BundleError::Invalid(format!(
                "the policies name users or groups of the user pool `{pool}` (`{pool}|…`), which this authorizer does not trust (it trusts {})",
                if self.pools.is_empty() {
                    "none by id".to_owned()
                } else {
                    self.pools
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))),
        }
    }
}

fn poisoned() -> BundleError {
    BundleError::Store(Arc::new(Error::store("Cedar policy cache lock poisoned")))
}

/// The route a REQUEST event asks for, as Cedar's action names it: the method (`GET`) and the
/// resource path template (`/petstore/v1/pets/{id}`), checked against the method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'e> {
    pub method: &'e str,
    pub resource: &'e str,
}

impl<'e> Route<'e> {
    /// The route of the event's `httpMethod` and `resource`, which must be the method ARN's
    /// method and a template its path fits: the decision is made on the route, and the policy
    /// returned is built on it, so the two must be the request API Gateway will check.
    pub fn checked(
        method: Option<&'e str>,
        resource: Option<&'e str>,
        arn: &MethodArn,
    ) -> Result<Self, String> {
        let (Some(method), Some(resource)) = (method, resource) else {
            return Err(
                "a Cedar decision needs the REQUEST event's `httpMethod` and `resource` (a TOKEN authorizer has neither)"
                    .to_owned(),
            );
        };
        if method != arn.method() {
            return Err(format!(
                "`httpMethod` `{method}` is not the method ARN's `{}`",
                arn.method()
            ));
        }
        if !fits(resource, arn.path()) {
            return Err(format!(
                "`resource` `{resource}` does not fit the method ARN's path `/{}`",
                arn.path()
            ));
        }
        Ok(Self { method, resource })
    }
}

/// Whether `path` (`pets/7`, no leading `/`) is a path of the template `resource`
/// (`/pets/{id}`): literal segments equal, `{name}` one segment, a last `{name+}` one or more.
fn fits(resource: &str, path: &str) -> bool {
    let template = resource.strip_prefix('/').unwrap_or(resource);
    if template.is_empty() || path.is_empty() {
        return template.is_empty() && path.is_empty();
    }
    let mut segments = path.split('/');
    for part in template.split('/') {
        if is_greedy(part) {
            return segments.next().is_some();
        }
        match segments.next() {
            Some(segment) if is_parameter(part) || segment == part => {}
            _ => return false,
        }
    }
    segments.next().is_none()
}

fn is_parameter(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

fn is_greedy(part: &str) -> bool {
    part.starts_with('{') && part.ends_with("+}")
}

/// The policy returned for a Cedar decision: one statement, Allow or Deny, on the request's
/// route, its path parameters (`{id}`, `{proxy+}`) each a `*`:
/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/pets/*`.
///
/// API Gateway caches a REQUEST authorizer's policy under the values of its identity sources
/// and applies it to each later request with the same values
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/configure-api-gateway-lambda-authorization.html>,
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html>).
/// In Cedar mode the identity sources are the `Authorization` header, `context.httpMethod` and
/// `context.resourcePath`, so a cached answer is reused only for the same caller on the same
/// method and route, which is what the Cedar decision was about: it reads no path parameter
/// and no source address (the schema gives every action an empty context, and strict validation
/// refuses a policy that reads one). The `*` lets the answer cover the route's other ids; the
/// `*` of an IAM resource also matches `/`, so it would cover a longer route too, but a longer
/// route is another resource path, so another cache entry, decided on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePolicy {
    pub allow: bool,
    pub resource: String,
}

impl RoutePolicy {
    pub fn new(allow: bool, arn: &MethodArn, route: &Route<'_>) -> Self {
        let partition = arn.partition();
        let mut resource = String::with_capacity(arn.as_str().len() + 8);
        let template = route.resource.strip_prefix('/').unwrap_or(route.resource);
        for part in [
            "arn:",
            partition,
            ":execute-api:",
            arn.region(),
            ":",
            arn.account(),
            ":",
            arn.api_id(),
            "/",
            arn.stage(),
            "/",
            arn.method(),
            "/",
        ] {
            resource.push_str(part);
        }
        for (n, part) in template.split('/').enumerate() {
            if n > 0 {
                resource.push('/');
            }
            resource.push_str(if is_parameter(part) { "*" } else { part });
        }
        Self { allow, resource }
    }
}

impl Serialize for RoutePolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Statement<'a> {
            #[serde(rename = "Effect")]
            effect: &'static str,
            #[serde(rename = "Action")]
            action: [&'static str; 1],
            #[serde(rename = "Resource")]
            resource: [&'a str; 1],
        }
        let statement = Statement {
            effect: if self.allow { "Allow" } else { "Deny" },
            action: [groupgate_shared::INVOKE_ACTION],
            resource: [&self.resource],
        };
        let mut doc = serializer.serialize_struct("PolicyDocument", 2)?;
        doc.serialize_field("Version", groupgate_shared::POLICY_VERSION)?;
        doc.serialize_field("Statement", &[statement])?;
        doc.end()
    }
}

/// A Cedar decision as a log line's detail: the policies that decided (ids from the stored
/// set), and Cedar's errors escaped, since they can quote the caller's sub or group keys.
pub struct Detail<'a>(pub &'a groupgate_cedar::CedarDecision);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decision = self.0;
        let verdict = if decision.allow { "Allow" } else { "Deny" };
        match (decision.allow, decision.policies.as_slice()) {
            (true, ids) => write!(f, "{verdict}: permitted by {}", ids.join(", "))?,
            (false, []) => write!(f, "{verdict}: no policy permits it")?,
            (false, ids) => write!(f, "{verdict}: forbidden by {}", ids.join(", "))?,
        }
        for error in &decision.errors {
            write!(
                f,
                "; error: {}",
                groupgate_shared::untrusted::Untrusted(error)
            )?;
        }
        Ok(())
    }
}

/// The policy table as the bundle's source: one GetItem of the bundle's key.
#[cfg(feature = "aws")]
impl BundleSource for groupgate_shared::dynamodb::DynamoPolicySource {
    fn read(&self) -> BundleRead<'_> {
        Box::pin(async move {
            let attribute = groupgate_cedar::BUNDLE_ATTRIBUTE;
            let item = self
                .get_item(groupgate_cedar::BUNDLE_KEY, attribute)
                .await?;
            Ok(match item {
                None => BundleItem::Missing,
                Some(item) => match item.get(attribute) {
                    Some(aws_sdk_dynamodb::types::AttributeValue::S(text)) => {
                        BundleItem::Text(text.clone())
                    }
                    Some(_) => {
                        BundleItem::Malformed(format!("attribute `{attribute}` is not a string"))
                    }
                    None => BundleItem::Malformed(format!("attribute `{attribute}` is missing")),
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(method: &str, path: &str) -> MethodArn {
        MethodArn::for_request("us-east-1", "123456789012", "abc123", "prod", method, path).unwrap()
    }

    #[test]
    fn a_path_fits_its_template_segment_by_segment() {
        assert!(fits("/pets/{id}", "pets/7"));
        assert!(fits("/pets", "pets"));
        assert!(fits("/", ""));
        assert!(fits("/{proxy+}", "a/b/c"));
        assert!(fits("/api/{proxy+}", "api/x"));
        assert!(!fits("/api/{proxy+}", "api"));
        assert!(!fits("/pets/{id}", "pets"));
        assert!(!fits("/pets/{id}", "pets/7/photos"));
        assert!(!fits("/pets", "owners"));
        assert!(!fits("/", "pets"));
        assert!(!fits("/pets", ""));
    }

    #[test]
    fn the_route_must_be_the_method_arns() {
        let get = arn("GET", "/pets/7");
        let route = Route::checked(Some("GET"), Some("/pets/{id}"), &get).unwrap();
        assert_eq!(route.resource, "/pets/{id}");
        let e = Route::checked(Some("POST"), Some("/pets/{id}"), &get).unwrap_err();
        assert_eq!(e, "`httpMethod` `POST` is not the method ARN's `GET`");
        let e = Route::checked(Some("GET"), Some("/owners/{id}"), &get).unwrap_err();
        assert!(
            e.contains("does not fit the method ARN's path `/pets/7`"),
            "{e}"
        );
        let e = Route::checked(None, Some("/pets/{id}"), &get).unwrap_err();
        assert!(e.contains("`httpMethod` and `resource`"), "{e}");
    }

    #[test]
    fn the_returned_resource_is_the_route_with_each_parameter_a_wildcard() {
        let get = arn("GET", "/pets/7");
        let route = Route::checked(Some("GET"), Some("/pets/{id}"), &get).unwrap();
        let policy = RoutePolicy::new(true, &get, &route);
        assert_eq!(
            policy.resource,
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/*"
        );
        let root = arn("GET", "/");
        let route = Route::checked(Some("GET"), Some("/"), &root).unwrap();
        assert_eq!(
            RoutePolicy::new(false, &root, &route).resource,
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/"
        );
        let json = serde_json::to_value(RoutePolicy::new(false, &root, &route)).unwrap();
        assert_eq!(json["Version"], "2012-10-17");
        assert_eq!(json["Statement"][0]["Effect"], "Deny");
        assert_eq!(json["Statement"][0]["Action"][0], "execute-api:Invoke");
    }
}
