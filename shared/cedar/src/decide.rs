//! The decision: a verified caller and a route in, Allow or Deny with the policies that
//! determined it out, from Cedar's `Authorizer`.
//!
//! The request Cedar is asked, as a Verified Permissions API-linked store's authorizer asks it,
//! but with groupgate's own ids for users and groups (see [`crate::pool`] for why, and for the
//! rewrite to and from Verified Permissions' `{userPoolId}|` form):
//! - principal `User::"{sub}"`, a member of `UserGroup::"{key}"` for each of its groups' policy
//!   keys (`admin`, `partners:admin` for another pool's group, `scope:petstore/status.read`
//!   for a machine client's scope), as the IAM decision keys its policies; for a set that names
//!   users or groups as Verified Permissions does, also in that form (`{userPoolId}|{sub}`,
//!   `{userPoolId}|{group}`, [`CedarPolicyStore::caller_in_pool`]);
//! - action `Action::"{method} {resource path}"` (`"get /pets/{id}"`, see [`crate::action_name`]);
//! - resource `Application::"{api name}"`, the API as one entity;
//! - an empty context. The request's path parameters and source address are not given to the
//!   policies yet; when they are, the returned policy's caching must account for them.
//!
//! The entities are built directly (no entity JSON is written and parsed). What does not depend
//! on the caller is built once per store: the entity types, the application, and each action's
//! uid, looked up by route and method, and each policy's principal scope. A caller is its
//! principal entity alone, with the policies that may apply to it (those scoped to a group it
//! is not in, or to another user, cannot); an action the schema does not have is an error (and so a Deny), as
//! Cedar's own request validation would make it. The request and the caller's entities are not
//! checked against the schema again on each decision: they are built here, of the schema's types,
//! with no attributes and an empty context, so the check could find nothing, and it cost more
//! than half the decision. Any error Cedar reports, in building the request or in evaluating a
//! policy, makes the answer Deny and is kept with it: the decision fails closed, as Cedar's own
//! `Authorizer` does for a policy that errs.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicySet,
    PrincipalConstraint, Request, Response,
};

use crate::error::Error;
use crate::policies::CedarPolicies;
use crate::schema::{APPLICATION, ApiSchema, USER, USER_GROUP};

/// A Cedar decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CedarDecision {
    pub allow: bool,
    /// The ids of the policies that determined it (`admin.cedar#0`): the permits that allowed
    /// it, or the forbids that denied it; empty for a Deny that no policy permitted.
    pub policies: Vec<String>,
    /// Errors met on the way, each of which denies (a policy that errs is skipped by Cedar; a
    /// request that cannot be built is not asked).
    pub errors: Vec<String>,
}

impl CedarDecision {
    /// A Deny for an error met before Cedar could be asked (a caller that could not be built).
    pub fn failed(error: impl fmt::Display) -> Self {
        Self {
            allow: false,
            policies: Vec::new(),
            errors: vec![error.to_string()],
        }
    }

    /// A short stable code for logs and metrics, as the IAM decision's reasons have.
    pub fn code(&self) -> &'static str {
        match (self.allow, self.errors.is_empty(), self.policies.is_empty()) {
            (true, _, _) => "allowed",
            (false, false, _) => "cedar_error",
            (false, true, false) => "explicit_deny",
            (false, true, true) => "no_allow",
        }
    }
}

impl fmt::Display for CedarDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decision = if self.allow { "Allow" } else { "Deny" };
        match (self.allow, self.policies.as_slice()) {
            (true, ids) => write!(f, "{decision}: permitted by {}", ids.join(", "))?,
            (false, []) => write!(f, "{decision}: no policy permits it")?,
            (false, ids) => write!(f, "{decision}: forbidden by {}", ids.join(", "))?,
        }
        for error in &self.errors {
            write!(f, "; error: {error}")?;
        }
        Ok(())
    }
}

/// A schema, its validated policies and the API they guard: everything a decision needs.
#[derive(Debug, Clone)]
pub struct CedarPolicyStore {
    schema: ApiSchema,
    policies: CedarPolicies,
    application: EntityUid,
    user_type: EntityTypeName,
    group_type: EntityTypeName,
    /// Each action of the schema by its route's path (`/pets/{id}`), then its lowercase
    /// method (`get`): found without building its name.
    actions: HashMap<String, Vec<(String, EntityUid)>>,
    /// Each policy with whom its scope can name as principal, to leave out of a caller's
    /// decisions the policies that cannot apply to it.
    scopes: Vec<(Policy, PrincipalScope)>,
    /// Whether the policies name users as `{userPoolId}|{sub}`: the principal is then named so.
    users_by_pool: bool,
    /// Whether the policies name groups as `{userPoolId}|{group}`: a caller is then also a
    /// member of its Cognito groups so named.
    groups_by_pool: bool,
    authorizer: Authorizer,
}

/// The user pool a caller signed in to and its Cognito groups as its token names them: what
/// Verified Permissions' ids for the caller are made of (`{userPoolId}|{sub}` for the user,
/// `{userPoolId}|{group}` for each group).
#[derive(Debug, Clone, Copy)]
pub struct CallerPool<'a> {
    /// `us-east-1_AbCdEf123`.
    pub id: &'a str,
    /// The token's `cognito:groups`, without any `group_prefix`.
    pub groups: &'a [String],
}

/// Whom a policy's principal scope can match, as far as a caller's policies are chosen by it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalScope {
    /// `principal in UserGroup::"{0}"`: only a member of that group.
    Group(String),
    /// `principal == User::"{0}"`: only that user.
    User(String),
    /// Anything else (`principal`, `principal is User`, …): any caller; never left out.
    Anyone,
}

impl PrincipalScope {
    fn of(policy: &Policy, user_type: &EntityTypeName, group_type: &EntityTypeName) -> Self {
        let id = |uid: &EntityUid| uid.id().unescaped().to_owned();
        match policy.principal_constraint() {
            PrincipalConstraint::In(uid) if uid.type_name() == group_type => Self::Group(id(&uid)),
            PrincipalConstraint::Eq(uid) if uid.type_name() == user_type => Self::User(id(&uid)),
            _ => Self::Anyone,
        }
    }

    /// Whether the policy can apply to the user `sub` in the groups `groups`. A user's only
    /// ancestors are its groups (the schema gives groups no parents), so `principal in
    /// UserGroup::"g"` is false for a caller not in `g`; and Cedar evaluates a policy as
    /// `principal scope && (action scope && (resource scope && conditions))`, short-circuited,
    /// so such a policy can neither match nor err for it (cedar-policy-core's
    /// `TemplateBody::condition`).
    fn may_apply<G: AsRef<str>>(&self, principal: &str, groups: &[G]) -> bool {
        match self {
            Self::Group(group) => groups.iter().any(|g| g.as_ref() == group),
            Self::User(user) => user == principal,
            Self::Anyone => true,
        }
    }
}

impl CedarPolicyStore {
    /// `api_name` names the resource, `Application::"{api_name}"`.
    pub fn new(schema: ApiSchema, policies: CedarPolicies, api_name: &str) -> Result<Self, Error> {
        let application = EntityUid::from_type_name_and_id(
            schema.entity_type(APPLICATION)?,
            EntityId::new(api_name),
        );
        let mut actions: HashMap<String, Vec<(String, EntityUid)>> = HashMap::new();
        for uid in schema.schema().actions() {
            // An action is named `{method} {path}` (`crate::action_name`); the method has no space.
            if let Some((method, path)) = uid.id().unescaped().split_once(' ') {
                actions
                    .entry(path.to_owned())
                    .or_default()
                    .push((method.to_owned(), uid.clone()));
            }
        }
        let user_type = schema.entity_type(USER)?;
        let group_type = schema.entity_type(USER_GROUP)?;
        let scopes = policies
            .set()
            .policies()
            .map(|p| (p.clone(), PrincipalScope::of(p, &user_type, &group_type)))
            .collect();
        let ids = policies.named_ids();
        Ok(Self {
            users_by_pool: ids.users_by_pool,
            groups_by_pool: ids.groups_by_pool,
            user_type,
            group_type,
            schema,
            policies,
            application,
            actions,
            scopes,
            authorizer: Authorizer::new(),
        })
    }

    pub fn schema(&self) -> &ApiSchema {
        &self.schema
    }

    pub fn policies(&self) -> &CedarPolicies {
        &self.policies
    }

    /// Whether the caller `sub`, a member of the groups keyed `groups` (`admin`,
    /// `partners:admin`), may call `method` (`GET`) on the route `path_template` (`/pets/{id}`,
    /// the resource path, not the path asked). A route the schema does not know, or any other
    /// error, is a Deny.
    pub fn decide(
        &self,
        principal_sub: &str,
        groups: &[&str],
        method: &str,
        path_template: &str,
    ) -> CedarDecision {
        match self.caller(principal_sub, groups) {
            Ok(caller) => self.decide_for(&caller, method, path_template),
            Err(e) => CedarDecision::failed(e),
        }
    }

    /// The caller `sub`, a member of the groups keyed `groups`, as Cedar's principal and
    /// entities: built once, it can be asked about any number of routes with
    /// [`CedarPolicyStore::decide_for`]. A set that names users or groups by user pool (see
    /// [`CedarPolicyStore::caller_in_pool`]) cannot decide for a caller of no known pool: that
    /// is an error, and so a Deny.
    pub fn caller(&self, principal_sub: &str, groups: &[&str]) -> Result<CedarCaller, String> {
        self.caller_of(principal_sub, groups, None)
    }

    /// The caller `sub` of the user pool `pool`, a member of the groups keyed `groups`. When
    /// the policies name users or groups as Verified Permissions does for a Cognito identity
    /// source, the caller is named so as well: the principal is `User::"{poolId}|{sub}"` if the
    /// policies name users that way, and the caller is also a member of
    /// `UserGroup::"{poolId}|{group}"` for each of its Cognito groups if they name groups that
    /// way. A policy set written for a Verified Permissions store then decides unchanged.
    pub fn caller_in_pool(
        &self,
        principal_sub: &str,
        groups: &[&str],
        pool: CallerPool<'_>,
    ) -> Result<CedarCaller, String> {
        self.caller_of(principal_sub, groups, Some(pool))
    }

    /// [`CedarPolicyStore::caller_in_pool`] for groups given as owned keys, as the authorizer
    /// holds them (no list of borrowed keys is built on the way).
    pub fn caller_of_keys(
        &self,
        principal_sub: &str,
        groups: &[String],
        pool: CallerPool<'_>,
    ) -> Result<CedarCaller, String> {
        self.caller_of(principal_sub, groups, Some(pool))
    }

    /// Whether a caller's pool changes how it is named: the policies name users or groups by
    /// user pool.
    pub fn names_by_pool(&self) -> bool {
        self.users_by_pool || self.groups_by_pool
    }

    fn caller_of<G: AsRef<str>>(
        &self,
        principal_sub: &str,
        groups: &[G],
        pool: Option<CallerPool<'_>>,
    ) -> Result<CedarCaller, String> {
        if pool.is_none() && self.names_by_pool() {
            return Err(
                "the policies name users or groups by user pool (`{userPoolId}|…`), and the caller's pool is not known"
                    .to_owned(),
            );
        }
        let principal_id = match pool {
            Some(pool) if self.users_by_pool => Cow::Owned(format!("{}|{principal_sub}", pool.id)),
            _ => Cow::Borrowed(principal_sub),
        };
        // Where the policies name groups by pool, a key that reads as a pool's id (a group of
        // the stack's pool named `us-east-1_AbC|admin`) is not made a member: only the pool the
        // token was verified against makes such an id.
        let mut members: Vec<Cow<'_, str>> = groups
            .iter()
            .map(|g| Cow::Borrowed(g.as_ref()))
            .filter(|key| !self.groups_by_pool || crate::pool::pool_of(key).is_none())
            .collect();
        if let Some(pool) = pool.filter(|_| self.groups_by_pool) {
            members.extend(
                pool.groups
                    .iter()
                    .map(|group| Cow::Owned(format!("{}|{group}", pool.id))),
            );
        }
        let group_uids: HashSet<EntityUid> = members
            .iter()
            .map(|group| {
                EntityUid::from_type_name_and_id(
                    self.group_type.clone(),
                    EntityId::new(group.as_ref()),
                )
            })
            .collect();
        let principal = EntityUid::from_type_name_and_id(
            self.user_type.clone(),
            EntityId::new(principal_id.as_ref()),
        );
        // Only the principal is an entity: `in` and `==` on a group or the application need no
        // entity of theirs (Cedar evaluates `e in g` for an `e` missing from the store as
        // `e == g`, its evaluator's `Dereference::NoSuchEntity` case), and the schema gives
        // groups and the application neither attributes nor parents. Fewer entities, less
        // transitive closure to compute.
        let entities = [Entity::new_no_attrs(principal.clone(), group_uids)];
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
        // The policies that may apply to this caller, when some cannot: a policy scoped to a
        // group it is not in, or to another user, is left out, which changes no decision and
        // saves evaluating it on each of the caller's requests.
        let applies = |scope: &PrincipalScope| scope.may_apply(&principal_id, &members);
        let policies = if self.scopes.iter().all(|(_, scope)| applies(scope)) {
            None
        } else {
            let mut set = PolicySet::new();
            for (policy, scope) in &self.scopes {
                if applies(scope) {
                    set.add(policy.clone()).map_err(|e| e.to_string())?;
                }
            }
            Some(set)
        };
        Ok(CedarCaller {
            principal,
            entities,
            policies,
        })
    }

    /// [`CedarPolicyStore::decide`] for a caller built by [`CedarPolicyStore::caller`] of this
    /// store.
    pub fn decide_for(
        &self,
        caller: &CedarCaller,
        method: &str,
        path_template: &str,
    ) -> CedarDecision {
        match self.ask(caller, method, path_template) {
            Ok(response) => decision_of(&response),
            Err(e) => CedarDecision::failed(e),
        }
    }

    fn ask(
        &self,
        caller: &CedarCaller,
        method: &str,
        path_template: &str,
    ) -> Result<Response, String> {
        let action = self
            .actions
            .get(path_template)
            .and_then(|methods| {
                methods
                    .iter()
                    .find(|(m, _)| m.eq_ignore_ascii_case(method))
                    .map(|(_, uid)| uid.clone())
            })
            .ok_or_else(|| {
                format!(
                    "the schema has no action `{}`: no route of the API",
                    crate::schema::action_name(method, path_template)
                )
            })?;
        let request = Request::new(
            caller.principal.clone(),
            action,
            self.application.clone(),
            Context::empty(),
            None,
        )
        .map_err(|e| e.to_string())?;
        let policies = caller.policies.as_ref().unwrap_or(self.policies.set());
        Ok(self
            .authorizer
            .is_authorized(&request, policies, &caller.entities))
    }
}

/// A caller as Cedar sees it: the principal `User::"{sub}"` as the one entity (its groups its
/// parents), and the store's policies that may apply to it.
#[derive(Debug, Clone)]
pub struct CedarCaller {
    principal: EntityUid,
    entities: Entities,
    /// The store's policies that may apply to the caller, when that is not all of them.
    policies: Option<PolicySet>,
}

/// Cedar's answer as ours: an evaluation error anywhere denies, even where another policy
/// permits, so that a policy that cannot be evaluated never leaves a forbid unsaid.
fn decision_of(response: &Response) -> CedarDecision {
    let diagnostics = response.diagnostics();
    let mut policies: Vec<String> = diagnostics
        .reason()
        .map(|id| AsRef::<str>::as_ref(id).to_owned())
        .collect();
    policies.sort();
    let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
    let permitted = response.decision() == cedar_policy::Decision::Allow;
    CedarDecision {
        allow: permitted && errors.is_empty(),
        policies: if permitted && !errors.is_empty() {
            Vec::new()
        } else {
            policies
        },
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(policies: &str) -> CedarPolicyStore {
        let schema = ApiSchema::for_routes("api", &[("GET", "/pets"), ("POST", "/pets")]).unwrap();
        let files = [("p.cedar".to_owned(), policies.to_owned())];
        let policies = CedarPolicies::from_files(&files, &schema).unwrap();
        CedarPolicyStore::new(schema, policies, "api").unwrap()
    }

    #[test]
    fn a_forbid_beats_a_permit_and_is_named() {
        let store = store(
            r#"permit (principal in api::UserGroup::"staff", action, resource);
forbid (principal, action == api::Action::"post /pets", resource);"#,
        );
        let get = store.decide("sub", &["staff"], "GET", "/pets");
        assert!(get.allow, "{get}");
        assert_eq!(get.policies, ["p.cedar#0"]);
        let post = store.decide("sub", &["staff"], "POST", "/pets");
        assert!(!post.allow, "{post}");
        assert_eq!(post.policies, ["p.cedar#1"]);
        assert_eq!(post.code(), "explicit_deny");
        assert_eq!(post.to_string(), "Deny: forbidden by p.cedar#1");
    }

    #[test]
    fn the_principal_is_the_user_by_sub_and_groups_by_key() {
        let store = store(
            r#"permit (principal == api::User::"alice", action, resource == api::Application::"api");
permit (principal in api::UserGroup::"partners:admin", action == api::Action::"post /pets", resource);"#,
        );
        assert!(store.decide("alice", &[], "GET", "/pets").allow);
        assert!(!store.decide("bob", &[], "GET", "/pets").allow);
        assert!(
            store
                .decide("bob", &["partners:admin"], "POST", "/pets")
                .allow
        );
        // The pool's own `admin` is not the partners' one.
        assert!(!store.decide("bob", &["admin"], "POST", "/pets").allow);
    }

    #[test]
    fn policies_scoped_to_other_groups_or_users_are_left_out_without_changing_a_decision() {
        let store = store(
            r#"permit (principal in api::UserGroup::"staff", action, resource);
forbid (principal in api::UserGroup::"suspended", action, resource);
forbid (principal == api::User::"mallory", action == api::Action::"post /pets", resource);"#,
        );
        let staff = store.caller("alice", &["staff"]).unwrap();
        // Neither forbid can apply to alice: only the permit is evaluated.
        assert_eq!(
            staff.policies.as_ref().map(|p| p.policies().count()),
            Some(1)
        );
        assert!(store.decide_for(&staff, "POST", "/pets").allow);
        // A forbid of a group the caller is in, or of the caller itself, is kept and denies.
        let suspended = store.decide("alice", &["staff", "suspended"], "GET", "/pets");
        assert_eq!(suspended.policies, ["p.cedar#1"], "{suspended}");
        let mallory = store.decide("mallory", &["staff"], "POST", "/pets");
        assert_eq!(mallory.policies, ["p.cedar#2"], "{mallory}");
        assert!(store.decide("mallory", &["staff"], "GET", "/pets").allow);
    }

    const POOL: &str = "us-east-1_AbC123";

    fn in_pool<'a>(groups: &'a [String]) -> CallerPool<'a> {
        CallerPool { id: POOL, groups }
    }

    #[test]
    fn verified_permissions_ids_name_the_caller_of_their_pool_only() {
        let store = store(&format!(
            r#"permit (principal in api::UserGroup::"{POOL}|staff", action, resource);
forbid (principal in api::UserGroup::"{POOL}|suspended", action == api::Action::"post /pets", resource);"#
        ));
        assert!(store.names_by_pool());
        let staff = ["staff".to_owned()];
        let ask = |sub: &str, keys: &[&str], pool: CallerPool<'_>, method: &str| {
            let caller = store.caller_in_pool(sub, keys, pool).unwrap();
            store.decide_for(&caller, method, "/pets")
        };
        // The Cognito group, not the policy key, makes the pool's id: a prefixed pool's caller
        // has the key `partners:staff` and is still `{pool}|staff` of its own pool.
        assert!(ask("sub", &["staff"], in_pool(&staff), "GET").allow);
        assert!(ask("sub", &["partners:staff"], in_pool(&staff), "GET").allow);
        let other = CallerPool {
            id: "eu-west-1_Other1",
            groups: &staff,
        };
        assert!(!ask("sub", &["staff"], other, "GET").allow);
        let suspended = ["staff".to_owned(), "suspended".to_owned()];
        let decision = ask("sub", &["staff", "suspended"], in_pool(&suspended), "POST");
        assert_eq!(decision.code(), "explicit_deny", "{decision}");
        // A set naming pools cannot decide for a caller of no known pool: it denies, saying so.
        // A group of the pool named like another pool's id is not that pool's group.
        let forged = [format!("{POOL}|staff")];
        let decision = ask("sub", &[&forged[0]], in_pool(&forged), "GET");
        assert!(!decision.allow, "{decision}");
        let unknown = store.decide("sub", &["staff"], "GET", "/pets");
        assert_eq!(unknown.code(), "cedar_error");
        assert!(unknown.errors[0].contains("pool is not known"), "{unknown}");
    }

    #[test]
    fn a_set_naming_users_by_pool_names_the_principal_so() {
        let store = store(&format!(
            r#"permit (principal == api::User::"{POOL}|alice", action, resource);"#
        ));
        let none: [String; 0] = [];
        let alice = store.caller_in_pool("alice", &[], in_pool(&none)).unwrap();
        assert!(store.decide_for(&alice, "GET", "/pets").allow);
        let elsewhere = CallerPool {
            id: "eu-west-1_Other1",
            groups: &none,
        };
        let alice = store.caller_in_pool("alice", &[], elsewhere).unwrap();
        assert!(!store.decide_for(&alice, "GET", "/pets").allow);
        // A set naming no pool names the principal by its sub, whatever its pool.
        let plain = self::store(r#"permit (principal == api::User::"alice", action, resource);"#);
        assert!(!plain.names_by_pool());
        let alice = plain.caller_in_pool("alice", &[], in_pool(&none)).unwrap();
        assert!(plain.decide_for(&alice, "GET", "/pets").allow);
    }

    #[test]
    fn a_caller_built_once_decides_as_a_fresh_one_on_every_route() {
        let store = store(
            r#"permit (principal in api::UserGroup::"staff", action == api::Action::"get /pets", resource);"#,
        );
        let caller = store.caller("sub", &["staff"]).unwrap();
        for method in ["GET", "POST", "DELETE"] {
            assert_eq!(
                store.decide_for(&caller, method, "/pets"),
                store.decide("sub", &["staff"], method, "/pets"),
                "{method}"
            );
        }
        assert!(store.decide_for(&caller, "GET", "/pets").allow);
    }

    #[test]
    fn a_policy_that_errs_denies_even_where_another_permits() {
        // Valid in strict mode, but the sum overflows when evaluated: Cedar skips the forbid and
        // would allow; this crate denies, with Cedar's error.
        let store = store(
            r#"permit (principal, action, resource);
forbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };"#,
        );
        let decision = store.decide("sub", &[], "GET", "/pets");
        assert!(!decision.allow, "{decision}");
        assert_eq!(decision.code(), "cedar_error");
        assert!(decision.policies.is_empty());
        assert!(decision.errors[0].contains("p.cedar#1"), "{decision}");
    }

    #[test]
    fn a_method_the_route_does_not_have_is_denied_with_the_error() {
        let store = store("permit (principal, action, resource);");
        let decision = store.decide("sub", &[], "DELETE", "/pets");
        assert!(!decision.allow);
        assert!(decision.to_string().contains("error:"), "{decision}");
    }
}
