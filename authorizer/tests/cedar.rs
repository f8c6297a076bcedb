#![cfg(test)]
#![cfg(feature = "cedar")]
//! The authorizer in Cedar mode (feature `cedar`): the petstore's Cedar policies
//! (`examples/cedar/policies`) stored as a bundle, read through a double of the policy table
//! that the tests change between requests (and, in the last tests, from moto's DynamoDB), keys
//! served from memory. Each decision is checked on the policy returned, evaluated as API
//! Gateway evaluates it.

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use authorizer::cedar::{BundleItem, BundleRead, BundleSource, CedarSource};
use authorizer::{Authorizer, AuthorizerError, AuthorizerEvent, AuthorizerResponse};
use groupgate_cedar::{ApiSchema, CedarBundle, CedarPolicies};
use groupgate_shared::jwks::{JwksCache, JwksSource};
use groupgate_shared::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, INVOKE_ACTION, MergedPolicy,
    PolicyDocument, PolicySource, RequestFacts, StoreFailure, TokenRules, TokenVerifier,
};
use groupgate_testkit::{TestKey, access_claims, jwks};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_Cedar001";
const CLIENT: &str = "cedar-client";
const NOW: u64 = 1_800_000_000;
const EVENT: &str = include_str!("../../fixtures/events/authorizer-request.json");
const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod";
const TTL: Duration = Duration::from_secs(60);

static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("cedar-key"));

struct Keys;
impl JwksSource for Keys {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        Ok(jwks(&[&KEY]).into_bytes())
    }
}

/// A policy table with no group items: Cedar mode reads an allowed caller's groups' items for
/// their roles only, and there are none here.
struct NoGroupPolicies;
impl PolicySource for NoGroupPolicies {
    async fn fetch(&self, _groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Ok(Vec::new())
    }
}

fn schema() -> ApiSchema {
    ApiSchema::for_routes("petstore", &groupgate_testkit::FIXTURE_ROUTES).unwrap()
}

/// The petstore's Cedar policies, plus `extra` files, as the deploy stores them.
fn bundle(extra: &[(&str, &str)]) -> String {
    let schema = schema();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cedar/policies");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.extend(
        extra
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned())),
    );
    files.sort();
    let policies = CedarPolicies::from_files(&files, &schema).unwrap();
    CedarBundle::new(&schema, &policies, "petstore").to_json()
}

/// The policy table as the tests set it: what the next read finds (`None`: the read fails),
/// and how many reads there were.
#[derive(Clone, Default)]
struct Table(Arc<Mutex<(Option<BundleItem>, usize)>>);

impl Table {
    fn holding(item: BundleItem) -> Self {
        let table = Self::default();
        table.set(Some(item));
        table
    }
    fn set(&self, item: Option<BundleItem>) {
        self.0.lock().unwrap().0 = item;
    }
    fn reads(&self) -> usize {
        self.0.lock().unwrap().1
    }
}

impl BundleSource for Table {
    fn read(&self) -> BundleRead<'_> {
        Box::pin(async move {
            let mut state = self.0.lock().unwrap();
            state.1 += 1;
            state.0.clone().ok_or(Error::Store {
                kind: StoreFailure::Throttled,
                detail: "GetItem on `policies`: throttled".to_owned(),
            })
        })
    }
}

fn verifier() -> TokenVerifier<Keys> {
    let rules = TokenRules::new(
        POOL,
        vec![CLIENT.into()],
        ExpectedTokenUse::Access,
        Duration::from_secs(30),
    )
    .unwrap();
    TokenVerifier::new(rules, JwksCache::new(Keys, Duration::from_secs(10)))
}

fn authorizer(table: &Table) -> Authorizer<Keys, NoGroupPolicies> {
    trusting(table, &[])
}

/// An authorizer whose Cedar source trusts the user pools `pools` by id.
fn trusting(table: &Table, pools: &[&str]) -> Authorizer<Keys, NoGroupPolicies> {
    let pools = pools.iter().map(|p| (*p).to_owned()).collect();
    Authorizer::with_cedar(
        verifier(),
        CedarSource::new(table.clone(), TTL).trusting(pools),
        GroupPolicyStore::new(NoGroupPolicies, TTL),
    )
}

/// The petstore's policies as a Verified Permissions store with this pool as its identity
/// source holds them (`groupgate cedar export`'s statements, users and groups named
/// `{poolId}|…`), each written to its own file unchanged, plus `extra` files; the scope's policy
/// has no such form and is left out.
fn verified_permissions_bundle(extra: &[(&str, &str)]) -> String {
    let schema = schema();
    let stored: Value = serde_json::from_str(&bundle(&[])).unwrap();
    let ours = CedarBundle::from_json(&stored.to_string()).unwrap();
    let store = ours.into_store().unwrap();
    let (document, left_out) =
        groupgate_cedar::to_import_json_leaving_out(&schema, store.policies(), POOL).unwrap();
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    let document: Value = serde_json::from_str(&document).unwrap();
    let mut files: Vec<(String, String)> = document["policies"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = p["definition"]["static"]["statement"].as_str().unwrap();
            assert!(text.contains(&format!("\"{POOL}|")), "{text}");
            (format!("store-{i}.cedar"), text.to_owned())
        })
        .collect();
    files.extend(
        extra
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned())),
    );
    let policies = CedarPolicies::from_files(&files, &schema).unwrap();
    CedarBundle::new(&schema, &policies, "petstore").to_json()
}

fn token(groups: &[&str]) -> String {
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    KEY.sign(&access_claims(&issuer, CLIENT, groups, NOW))
}

/// The REQUEST fixture for `method` on `path` of the route `resource`, by a caller in `groups`.
fn request(groups: &[&str], method: &str, resource: &str, path: &str) -> AuthorizerEvent {
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    let bearer = format!("Bearer {}", token(groups));
    event["headers"]["Authorization"] = json!(bearer);
    event["multiValueHeaders"]["Authorization"] = json!([bearer]);
    event["httpMethod"] = json!(method);
    event["resource"] = json!(resource);
    event["path"] = json!(path);
    event["methodArn"] = json!(format!("{ARN_PREFIX}/{method}{path}"));
    serde_json::from_value(event).unwrap()
}

/// Whether `response`'s policy lets API Gateway call `method` on `path`.
fn covers(response: &AuthorizerResponse, method: &str, path: &str) -> bool {
    let document = PolicyDocument::from_json(&response.policy_document.to_json()).unwrap();
    MergedPolicy::from_document("returned", document, &RequestFacts::default())
        .decide(INVOKE_ACTION, &format!("{ARN_PREFIX}/{method}{path}"))
        .is_allow()
}

fn statement(response: &AuthorizerResponse) -> Value {
    let document: Value = serde_json::from_str(&response.policy_document.to_json()).unwrap();
    let [statement] = document["Statement"].as_array().unwrap().as_slice() else {
        panic!("not one statement: {document}")
    };
    statement.clone()
}

fn failure(result: Result<AuthorizerResponse, AuthorizerError>) -> String {
    match result {
        Err(AuthorizerError::Failed(message)) => message,
        Err(AuthorizerError::Unauthorized) => panic!("Unauthorized, not a failure"),
        Ok(response) => panic!(
            "answered, not failed: {}",
            response.policy_document.to_json()
        ),
    }
}

#[tokio::test]
async fn a_group_the_policies_permit_is_allowed_on_its_route_and_every_id_of_it() {
    let table = Table::holding(BundleItem::Text(bundle(&[])));
    let authorizer = authorizer(&table);
    let event = request(
        &["pet-viewer"],
        "GET",
        "/petstore/v1/pets/{id}",
        "/petstore/v1/pets/7",
    );
    let response = authorizer.handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Allow");
    assert_eq!(
        statement(&response)["Resource"],
        json!([format!("{ARN_PREFIX}/GET/petstore/v1/pets/*")])
    );
    // API Gateway reuses the answer for the same caller, method and resource path: another id
    // of the route. It covers no other route or method.
    assert!(covers(&response, "GET", "/petstore/v1/pets/7"));
    assert!(covers(&response, "GET", "/petstore/v1/pets/8"));
    assert!(!covers(&response, "GET", "/petstore/v1/pets"));
    assert!(!covers(&response, "DELETE", "/petstore/v1/pets/8"));
    assert!(!covers(&response, "GET", "/petstore/v2/status"));
    // The backend's context, as the IAM mode gives it.
    let context = serde_json::to_value(&response.context).unwrap();
    assert_eq!(context["groups"], "[\"pet-viewer\"]");
    assert_eq!(table.reads(), 1);
}

/// A policy set written for a Verified Permissions store decides unchanged: the caller of the
/// trusted pool is a member of `UserGroup::"{poolId}|{group}"` for each of its groups, and is
/// `User::"{poolId}|{sub}"` where the set names users so.
#[tokio::test]
async fn a_verified_permissions_policy_set_decides_unchanged_for_a_trusted_pool() {
    let suspended = format!(
        "forbid (principal in petstore::UserGroup::\"{POOL}|suspended\", action, resource);"
    );
    let table = Table::holding(BundleItem::Text(verified_permissions_bundle(&[(
        "suspended.cedar",
        &suspended,
    )])));
    let unchanged = trusting(&table, &[POOL]);
    let cases = [
        (
            &["pet-viewer"][..],
            "GET",
            "/petstore/v1/pets/{id}",
            "/petstore/v1/pets/7",
            "Allow",
        ),
        (
            &["pet-viewer"],
            "GET",
            "/petstore/v2/pets",
            "/petstore/v2/pets",
            "Deny",
        ),
        (
            &["admin"],
            "GET",
            "/petstore/v2/identity",
            "/petstore/v2/identity",
            "Allow",
        ),
        (
            &["admin", "suspended"],
            "GET",
            "/petstore/v1/pets",
            "/petstore/v1/pets",
            "Deny",
        ),
        (
            &["pet-veterinarian"],
            "GET",
            "/petstore/v2/identity",
            "/petstore/v2/identity",
            "Deny",
        ),
        (&[], "GET", "/petstore/v1/pets", "/petstore/v1/pets", "Deny"),
    ];
    for (groups, method, resource, path, effect) in cases {
        let event = request(groups, method, resource, path);
        let response = unchanged.handle(&event, NOW).await.unwrap();
        assert_eq!(
            statement(&response)["Effect"],
            effect,
            "{groups:?} {method} {path}"
        );
        // The same as the petstore's own policies decide.
        let own = authorizer(&Table::holding(BundleItem::Text(bundle(&[(
            "suspended.cedar",
            "forbid (principal in petstore::UserGroup::\"suspended\", action, resource);",
        )]))));
        let response = own.handle(&event, NOW).await.unwrap();
        assert_eq!(
            statement(&response)["Effect"],
            effect,
            "{groups:?} {method} {path}"
        );
    }

    // A user named as Verified Permissions names it.
    let sub = groupgate_testkit::access_claims("iss", CLIENT, &[], NOW)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = format!(
        "permit (principal == petstore::User::\"{POOL}|{sub}\", action == petstore::Action::\"get /petstore/v2/identity\", resource);"
    );
    let table = Table::holding(BundleItem::Text(verified_permissions_bundle(&[(
        "alice.cedar",
        &alice,
    )])));
    let unchanged = trusting(&table, &[POOL]);
    let event = request(&[], "GET", "/petstore/v2/identity", "/petstore/v2/identity");
    let response = unchanged.handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Allow");
}

/// A set that names a pool the authorizer does not trust (a mistyped id, another stage's store)
/// could never match that pool's groups, so a `forbid` of them would deny no one: it is refused
/// and every request fails, naming the pool.
#[tokio::test]
async fn a_policy_set_naming_an_untrusted_pool_fails_every_request() {
    let table = Table::holding(BundleItem::Text(verified_permissions_bundle(&[])));
    let event = request(&["admin"], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    for trusted in [&[][..], &["us-east-1_Other001"]] {
        let refusing = trusting(&table, trusted);
        let message = failure(refusing.handle(&event, NOW).await);
        assert!(message.starts_with("cedar_policies_invalid: "), "{message}");
        assert!(
            message.contains(&format!("user pool `{POOL}`")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_route_no_policy_permits_the_caller_is_denied_on_that_route_only() {
    let table = Table::holding(BundleItem::Text(bundle(&[])));
    let authorizer = authorizer(&table);
    let event = request(
        &["pet-viewer"],
        "GET",
        "/petstore/v2/identity",
        "/petstore/v2/identity",
    );
    let response = authorizer.handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Deny");
    assert_eq!(
        statement(&response)["Resource"],
        json!([format!("{ARN_PREFIX}/GET/petstore/v2/identity")])
    );
    // No group at all: denied too.
    let event = request(&[], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    let response = authorizer.handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Deny");
}

#[test]
fn an_explicit_forbid_beats_the_permit_and_is_logged_with_its_policy_id() {
    let forbid = "// No viewer posts.\nforbid (\n    principal in petstore::UserGroup::\"pet-viewer\",\n    action == petstore::Action::\"post /petstore/v1/pets\",\n    resource\n);\n";
    let table = Table::holding(BundleItem::Text(bundle(&[("no-post.cedar", forbid)])));
    let authorizer = authorizer(&table);
    let event = request(
        &["pet-viewer"],
        "POST",
        "/petstore/v1/pets",
        "/petstore/v1/pets",
    );
    let (response, log) = logged(authorizer.handle(&event, NOW));
    let response = response.unwrap();
    assert_eq!(statement(&response)["Effect"], "Deny");
    assert!(log.contains("reason=\"explicit_deny\""), "{log}");
    assert!(log.contains("forbidden by no-post.cedar#0"), "{log}");
    // The viewer's GET is still allowed, by its own file.
    let get = request(
        &["pet-viewer"],
        "GET",
        "/petstore/v1/pets",
        "/petstore/v1/pets",
    );
    let (response, logged) = logged(authorizer.handle(&get, NOW));
    assert_eq!(statement(&response.unwrap())["Effect"], "Allow");
    assert!(logged.contains("reason=\"allowed\""), "{logged}");
    assert!(
        logged.contains("permitted by pet-viewer.cedar#0"),
        "{logged}"
    );
}

#[test]
fn a_policy_that_errs_denies_even_where_another_permits() {
    // Valid in strict mode; the sum overflows when evaluated. Cedar skips the policy that errs;
    // the authorizer denies, with Cedar's error as the reason.
    let overflow = "forbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };\n";
    let table = Table::holding(BundleItem::Text(bundle(&[("overflow.cedar", overflow)])));
    let authorizer = authorizer(&table);
    let event = request(&["admin"], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    let (response, logged) = logged(authorizer.handle(&event, NOW));
    assert_eq!(statement(&response.unwrap())["Effect"], "Deny");
    assert!(logged.contains("reason=\"cedar_error\""), "{logged}");
    assert!(logged.contains("overflow.cedar#0"), "{logged}");
}

#[tokio::test(start_paused = true)]
async fn a_missing_policy_set_fails_every_request_naming_why() {
    let table = Table::holding(BundleItem::Missing);
    let authorizer = authorizer(&table);
    let event = request(&["admin"], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    let message = failure(authorizer.handle(&event, NOW).await);
    assert!(message.starts_with("cedar_policies_missing: "), "{message}");
    assert!(message.contains("no item `#cedar`"), "{message}");
    // Kept briefly: the next request fails the same without reading again.
    failure(authorizer.handle(&event, NOW).await);
    assert_eq!(table.reads(), 1);
    // A deploy that switches to Cedar writes the set after the function starts: it is read
    // again within seconds, not after the whole TTL.
    assert!(authorizer::cedar::FAILED_SET_KEPT < TTL);
    table.set(Some(BundleItem::Text(bundle(&[]))));
    tokio::time::advance(authorizer::cedar::FAILED_SET_KEPT + Duration::from_millis(1)).await;
    let response = authorizer.handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Allow");
    assert_eq!(table.reads(), 2);
}

#[tokio::test]
async fn an_invalid_policy_set_fails_every_request_naming_the_file_and_line() {
    let mut stored: Value = serde_json::from_str(&bundle(&[])).unwrap();
    let policies = stored["policies"].as_array_mut().unwrap();
    let admin = policies
        .iter_mut()
        .find(|p| p["id"] == "admin.cedar#0")
        .unwrap();
    admin["text"] = json!(
        "permit (\n    principal in petstore::UserGroup::\"admin\",\n    action == petstore::Action::\"delete /petstore/v1/pets\",\n    resource\n);"
    );
    let table = Table::holding(BundleItem::Text(stored.to_string()));
    let refusing = authorizer(&table);
    let event = request(&["admin"], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    let message = failure(refusing.handle(&event, NOW).await);
    assert!(message.starts_with("cedar_policies_invalid: "), "{message}");
    // The admin policy starts on line 4 of admin.cedar; its action is its third line.
    assert!(message.contains("admin.cedar:6: "), "{message}");

    let table = Table::holding(BundleItem::Malformed(
        "attribute `cedar` is not a string".into(),
    ));
    let message = failure(authorizer(&table).handle(&event, NOW).await);
    assert!(
        message.contains("attribute `cedar` is not a string"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_policy_set_is_read_again_after_the_ttl_and_a_failed_read_fails_closed() {
    let forbid_all = "forbid (principal, action, resource);\n";
    let table = Table::holding(BundleItem::Text(bundle(&[("freeze.cedar", forbid_all)])));
    let authorizer = authorizer(&table);
    let event = request(&["admin"], "GET", "/petstore/v1/pets", "/petstore/v1/pets");
    let effect = |response: Result<AuthorizerResponse, AuthorizerError>| {
        statement(&response.unwrap())["Effect"].clone()
    };
    assert_eq!(effect(authorizer.handle(&event, NOW).await), "Deny");

    // The deploy lifts the freeze: within the TTL the kept set still decides.
    table.set(Some(BundleItem::Text(bundle(&[]))));
    tokio::time::advance(TTL - Duration::from_secs(1)).await;
    assert_eq!(effect(authorizer.handle(&event, NOW).await), "Deny");
    assert_eq!(table.reads(), 1);
    // Past it, the new set does.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(effect(authorizer.handle(&event, NOW).await), "Allow");
    assert_eq!(table.reads(), 2);

    // A read that fails past the next TTL is not answered from the last good set, and is not
    // kept: the next request reads again.
    table.set(None);
    tokio::time::advance(TTL).await;
    let message = failure(authorizer.handle(&event, NOW).await);
    assert!(message.starts_with("policy_store_throttled: "), "{message}");
    failure(authorizer.handle(&event, NOW).await);
    assert_eq!(table.reads(), 4);
    table.set(Some(BundleItem::Text(bundle(&[]))));
    assert_eq!(effect(authorizer.handle(&event, NOW).await), "Allow");
}

#[tokio::test]
async fn a_token_event_is_refused_in_cedar_mode_as_malformed() {
    let table = Table::holding(BundleItem::Text(bundle(&[])));
    let authorizer = authorizer(&table);
    let event: AuthorizerEvent = serde_json::from_value(json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {}", token(&["admin"])),
        "methodArn": format!("{ARN_PREFIX}/GET/petstore/v1/pets"),
    }))
    .unwrap();
    let message = failure(authorizer.handle(&event, NOW).await);
    assert!(message.starts_with("malformed_event: "), "{message}");
    assert!(message.contains("`httpMethod` and `resource`"), "{message}");
}

#[tokio::test]
async fn a_request_whose_route_is_not_its_method_arns_is_refused_as_malformed() {
    let table = Table::holding(BundleItem::Text(bundle(&[])));
    let authorizer = authorizer(&table);
    // Decided as the viewer's GET, asked for a DELETE: never an Allow of the DELETE.
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    event["headers"]["Authorization"] = json!(format!("Bearer {}", token(&["pet-viewer"])));
    event["multiValueHeaders"]["Authorization"] = json!([]);
    event["methodArn"] = json!(format!("{ARN_PREFIX}/DELETE/petstore/v1/pets"));
    let event: AuthorizerEvent = serde_json::from_value(event).unwrap();
    let message = failure(authorizer.handle(&event, NOW).await);
    assert!(message.starts_with("malformed_event: "), "{message}");
    // A route without a resource.
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    event.as_object_mut().unwrap().remove("resource");
    event["headers"]["Authorization"] = json!(format!("Bearer {}", token(&["admin"])));
    event["multiValueHeaders"]["Authorization"] = json!([]);
    let event: AuthorizerEvent = serde_json::from_value(event).unwrap();
    let message = failure(authorizer.handle(&event, NOW).await);
    assert!(message.starts_with("malformed_event: "), "{message}");
}

/// What `run` logs, in the text format, beside its result.
fn logged<T>(run: impl std::future::Future<Output = T>) -> (T, String) {
    use lambda_runtime::tracing::subscriber as tracing_subscriber;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    let captured = Captured::default();
    let subscriber =
        authorizer::logging::subscriber(authorizer::logging::LogFormat::Text, captured.clone());
    let result = lambda_runtime::tracing::dispatcher::with_default(
        &lambda_runtime::tracing::Dispatch::new(subscriber),
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(run)
        },
    );
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

/// The policy table's adapter against moto's DynamoDB: the item the deploy writes
/// (`group` = `#cedar`, `cedar` = the bundle's text) is read and decides; a table without it
/// fails every request.
#[tokio::test]
async fn the_policy_tables_bundle_item_is_read_from_dynamodb() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use groupgate_shared::dynamodb::{Backoff, DynamoPolicySource};

    let moto = groupgate_testkit::Moto::start().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let source = |table: &str| {
        let policies =
            DynamoPolicySource::new(dynamodb.clone(), table.to_owned(), Backoff::default());
        let rules = TokenRules::new(
            POOL,
            vec![CLIENT.into()],
            ExpectedTokenUse::Access,
            Duration::from_secs(30),
        )
        .unwrap();
        Authorizer::<Keys, DynamoPolicySource>::with_cedar(
            TokenVerifier::new(rules, JwksCache::new(Keys, Duration::from_secs(10))),
            CedarSource::new(policies.clone(), TTL),
            GroupPolicyStore::new(policies, TTL),
        )
    };
    let event = request(
        &["pet-veterinarian"],
        "GET",
        "/petstore/v1/pets/{id}",
        "/petstore/v1/pets/3",
    );

    let empty = groupgate_testkit::policy_table(&dynamodb, &[]).await;
    let message = failure(source(&empty).handle(&event, NOW).await);
    assert!(message.starts_with("cedar_policies_missing: "), "{message}");

    let table = groupgate_testkit::policy_table(&dynamodb, &[]).await;
    dynamodb
        .put_item()
        .table_name(&table)
        .item(
            "group",
            AttributeValue::S(groupgate_cedar::BUNDLE_KEY.to_owned()),
        )
        .item(
            groupgate_cedar::BUNDLE_ATTRIBUTE,
            AttributeValue::S(bundle(&[])),
        )
        .send()
        .await
        .unwrap();
    let response = source(&table).handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Allow");
    assert_eq!(response.context.role_arn, None, "no group item, no role");

    // The group's item, as a Cedar deploy seeds it (its role and precedence, no policy): the
    // backend's role comes from it, as with IAM; access still comes from Cedar alone.
    let role = "arn:aws:iam::123456789012:role/groupgate/groupgate-pet-veterinarian";
    dynamodb
        .put_item()
        .table_name(&table)
        .item("group", AttributeValue::S("pet-veterinarian".to_owned()))
        .item("role_arn", AttributeValue::S(role.to_owned()))
        .item("precedence", AttributeValue::N("2".to_owned()))
        .send()
        .await
        .unwrap();
    let response = source(&table).handle(&event, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Allow");
    assert_eq!(response.context.role_arn.as_deref(), Some(role));
    let denied = request(
        &["pet-veterinarian"],
        "GET",
        "/petstore/v2/identity",
        "/petstore/v2/identity",
    );
    let response = source(&table).handle(&denied, NOW).await.unwrap();
    assert_eq!(statement(&response)["Effect"], "Deny");

    let wrong = groupgate_testkit::policy_table(&dynamodb, &[]).await;
    dynamodb
        .put_item()
        .table_name(&wrong)
        .item(
            "group",
            AttributeValue::S(groupgate_cedar::BUNDLE_KEY.to_owned()),
        )
        .item(
            groupgate_cedar::BUNDLE_ATTRIBUTE,
            AttributeValue::N("1".to_owned()),
        )
        .send()
        .await
        .unwrap();
    let message = failure(source(&wrong).handle(&event, NOW).await);
    assert!(message.starts_with("cedar_policies_invalid: "), "{message}");
    assert!(
        message.contains("attribute `cedar` is not a string"),
        "{message}"
    );
}
