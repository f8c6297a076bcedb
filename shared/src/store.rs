//! Group policies cached in-process for a short time, in front of a [`PolicySource`] (the
//! DynamoDB table in production, see [`crate::dynamodb`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;
use crate::group::GroupPolicy;

/// DynamoDB's limit on a string partition key, in bytes (it must also be non-empty).
pub const MAX_KEY_BYTES: usize = 2048;

/// Whether DynamoDB can hold `group` as a partition key. A name it cannot hold would make it
/// reject the whole BatchGetItem, so such names are never sent: they grant nothing.
pub fn is_storable_key(group: &str) -> bool {
    !group.is_empty() && group.len() <= MAX_KEY_BYTES
}

/// The distinct names of `names` in first-seen order, in linear time: a scan while the list is
/// short (as group lists are), a hash set past that.
fn distinct(names: &[String]) -> Vec<&String> {
    const FEW: usize = 32;
    let mut out: Vec<&String> = Vec::with_capacity(names.len());
    let mut many = std::collections::HashSet::new();
    for name in names {
        let new = if out.len() < FEW {
            !out.contains(&name)
        } else {
            if many.is_empty() {
                many.extend(out.iter().copied());
            }
            many.insert(name)
        };
        if new {
            out.push(name);
        }
    }
    out
}

/// Where group policies are read from.
pub trait PolicySource: Send + Sync {
    /// The entries of those of `groups` that exist (the names are distinct).
    fn fetch(
        &self,
        groups: &[String],
    ) -> impl Future<Output = Result<Vec<GroupPolicy>, Error>> + Send;

    /// Every entry, if the source can list them all in one bounded read of at most `limit`
    /// entries; `None` when it cannot, or when there are more. Start-up uses it to fill the
    /// cache before the first request.
    fn list_all(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Option<Vec<GroupPolicy>>, Error>> + Send {
        let _ = limit;
        async { Ok(None) }
    }
}

struct Cached {
    fetched: Instant,
    /// `None`: the table has no entry for the group.
    entry: Option<Arc<GroupPolicy>>,
}

/// What [`GroupPolicyStore::load`] found: the entries that exist, and how many of the asked
/// groups came from the cache and how many were read from the source.
#[derive(Debug, Default)]
pub struct Loaded {
    pub policies: Vec<Arc<GroupPolicy>>,
    pub cache_hits: usize,
    pub cache_misses: usize,
}

/// Group policies by group name, cached for `ttl` (absent groups too, so a group with no policy
/// does not cost a read on every request).
pub struct GroupPolicyStore<S> {
    source: S,
    ttl: Duration,
    cache: RwLock<HashMap<String, Cached>>,
}

impl<S: PolicySource> GroupPolicyStore<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Fills the cache with every entry of the source, when it can list them all within
    /// `limit` (a small policy table: one entry per group). Returns how many it holds; 0 when
    /// the source would not list them, and the cache then fills request by request as always.
    pub async fn preload(&self, limit: usize) -> Result<usize, Error> {
        let Some(entries) = self.source.list_all(limit).await? else {
            return Ok(0);
        };
        let fetched = Instant::now();
        let mut cache = self.cache.write().map_err(|_| poisoned())?;
        let count = entries.len();
        for entry in entries {
            cache.insert(
                entry.group.clone(),
                Cached {
                    fetched,
                    entry: Some(Arc::new(entry)),
                },
            );
        }
        Ok(count)
    }

    /// The entries of the given groups that exist, in the order the groups are given. Names
    /// DynamoDB cannot hold as a key are dropped (and logged): they grant nothing.
    pub async fn load(&self, groups: &[String]) -> Result<Loaded, Error> {
        let mut groups = distinct(groups);
        groups.retain(|g| {
            let storable = is_storable_key(g);
            if !storable {
                tracing::warn!(
                    group = %crate::untrusted::Untrusted(g),
                    bytes = g.len(),
                    "group name cannot be a DynamoDB key; it grants nothing",
                );
            }
            storable
        });
        let mut missing = Vec::new();
        {
            let cache = self.cache.read().map_err(|_| poisoned())?;
            let mut found = Vec::with_capacity(groups.len());
            for group in &groups {
                match cache.get(*group) {
                    Some(c) if c.fetched.elapsed() < self.ttl => found.extend(c.entry.clone()),
                    _ => missing.push((*group).clone()),
                }
            }
            // The warm path: everything was cached.
            if missing.is_empty() {
                return Ok(Loaded {
                    policies: found,
                    cache_hits: groups.len(),
                    cache_misses: 0,
                });
            }
        }
        let cache_misses = missing.len();
        {
            let fetched_at = Instant::now();
            let mut by_group: HashMap<String, GroupPolicy> = self
                .source
                .fetch(&missing)
                .await?
                .into_iter()
                .map(|p| (p.group.clone(), p))
                .collect();
            let mut cache = self.cache.write().map_err(|_| poisoned())?;
            for group in missing {
                let entry = by_group.remove(&group).map(Arc::new);
                cache.insert(
                    group,
                    Cached {
                        fetched: fetched_at,
                        entry,
                    },
                );
            }
        }
        let cache = self.cache.read().map_err(|_| poisoned())?;
        Ok(Loaded {
            policies: groups
                .iter()
                .filter_map(|g| cache.get(*g).and_then(|c| c.entry.clone()))
                .collect(),
            cache_hits: groups.len() - cache_misses,
            cache_misses,
        })
    }
}

fn poisoned() -> Error {
    Error::store("policy cache lock poisoned")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Grants every group it is asked for, recording the names.
    #[derive(Default)]
    struct Recording {
        asked: Mutex<Vec<String>>,
    }

    impl PolicySource for &Recording {
        async fn fetch(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
            self.asked
                .lock()
                .map_err(|_| Error::store("poisoned"))?
                .extend(groups.iter().cloned());
            Ok(groups
                .iter()
                .map(|g| GroupPolicy {
                    group: g.clone(),
                    policy: Err(crate::PolicyError("unused".into())),
                    role_arn: None,
                    precedence: None,
                })
                .collect())
        }
    }

    /// Issue #9, row 7: DynamoDB rejects a whole BatchGetItem over one key it cannot hold.
    #[tokio::test]
    async fn names_dynamodb_cannot_hold_are_never_sent_and_grant_nothing() {
        let source = Recording::default();
        let store = GroupPolicyStore::new(&source, Duration::from_secs(60));
        let longest = "g".repeat(MAX_KEY_BYTES);
        let too_long = "g".repeat(MAX_KEY_BYTES + 1);
        let groups = vec![
            String::new(),
            "admin".to_owned(),
            too_long.clone(),
            longest.clone(),
        ];
        let loaded = store.load(&groups).await.unwrap();
        let names: Vec<&str> = loaded.policies.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["admin", longest.as_str()]);
        let asked = source.asked.lock().unwrap().clone();
        assert_eq!(asked, ["admin".to_owned(), longest]);
    }

    #[test]
    fn distinct_keeps_first_occurrences_in_order_for_short_and_long_lists() {
        let short: Vec<String> = ["b", "a", "b", "c", "a"].map(str::to_owned).to_vec();
        assert_eq!(distinct(&short), ["b", "a", "c"]);
        let long: Vec<String> = (0..10_000).map(|i| format!("g{}", i % 1000)).collect();
        let out = distinct(&long);
        assert_eq!(out.len(), 1000);
        assert_eq!(out.first().map(|s| s.as_str()), Some("g0"));
        assert_eq!(out.last().map(|s| s.as_str()), Some("g999"));
    }
}
