#![cfg(test)]
//! The tool as an operator runs it, in a checkout of its own (issue 25, 3 and 4):
//! - the local stack's description is found from any folder of the checkout, `describe` prints
//!   it, and the commands that take a stack or a `--table` use the running local stack's
//!   emulator when they name it, with no AWS configuration at all;
//! - every error a person reads is one or two lines: what failed, the cause's own words (the
//!   AWS error code and message, never the SDK's debug struct or the raw HTTP response), and
//!   what to do; `RUST_BACKTRACE` never hides it; a local stack that is not running is said so,
//!   with how to start it.
//!
//! - the running local stack follows `policies/` (`local sync`), and its users and tokens are
//!   served by hand (`local add-user`, `local tokens`, `local flush`) (issue 25, 2).
//!
//! Each case runs the built binary with no AWS configuration but what the case gives it; the
//! AWS side is moto over the wire, or an address nobody listens on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_dynamodb::types::AttributeValue;
use groupgate_testkit::{FIXTURE_ACCESS, FIXTURE_API, FIXTURE_POLICIES, Moto, free_port, unique};

/// A checkout of the product's settings, with the tests' own groups (`shared/testkit/fixtures`),
/// in a temporary folder: the tool finds it
/// from any folder inside it, as it finds the repository's.
struct Checkout {
    root: PathBuf,
}

impl Checkout {
    fn new() -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = std::env::temp_dir().join(unique("checkout"));
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::fs::create_dir_all(root.join("policies")).unwrap();
        std::fs::create_dir_all(root.join("api")).unwrap();
        std::fs::copy(FIXTURE_API, root.join("api/petstore.yaml")).unwrap();
        std::fs::copy(
            repo.join("deploy/groupgate.toml"),
            root.join("deploy/groupgate.toml"),
        )
        .unwrap();
        // The tests' own groups and matrix: they sign in as `admin@groupgate.local`.
        std::fs::copy(FIXTURE_ACCESS, root.join("deploy/access.json")).unwrap();
        for entry in std::fs::read_dir(FIXTURE_POLICIES).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, root.join("policies").join(path.file_name().unwrap())).unwrap();
        }
        Self { root }
    }

    /// Runs `groupgate ARGS` in `dir` (relative to the checkout's root) with only `env`: no
    /// AWS profile, credentials file or instance metadata to fall back on unless given.
    fn run(&self, dir: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_groupgate"))
            .args(args)
            .current_dir(self.root.join(dir))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.join("no-home"))
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Provisions the local stack into `moto` from this checkout, with its gateway's address
    /// answered by `gateway`, as `scripts/dev.sh` does (the description in `.local/stack.json`).
    fn provision(&self, moto: &Moto, gateway: &TcpListener) {
        let api_url = format!("http://{}/prod", gateway.local_addr().unwrap());
        let env_file = self.root.join(".local/functions.env");
        let out = self.run(
            "",
            &[
                "local",
                "provision",
                "--endpoint",
                &moto.endpoint,
                "--api-url",
                &api_url,
                "--env-file",
                env_file.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error the run printed, checked to be one or two lines with no trace of a debug struct,
/// a raw HTTP response or a backtrace.
fn one_error(out: &Output) -> String {
    let text = stderr(out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        !lines.is_empty() && lines.len() <= 2,
        "one or two lines, not:\n{text}"
    );
    assert!(lines[0].starts_with("error: "), "{text}");
    for trace in [
        "backtrace",
        "Backtrace",
        "SdkError",
        "ServiceError",
        "HttpResponse",
        "Response {",
        "raw:",
        "{ ",
    ] {
        assert!(!text.contains(trace), "`{trace}` in:\n{text}");
    }
    text
}

#[tokio::test]
async fn the_running_local_stack_is_found_from_anywhere_in_the_checkout_and_serves_its_tables() {
    let moto = Moto::start_own().await;
    let checkout = Checkout::new();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    checkout.provision(&moto, &gateway);
    // No credentials, region or endpoint: everything comes from the description.
    let nothing = [("AWS_EC2_METADATA_DISABLED", "true")];

    let out = checkout.run("deploy", &["describe"], &nothing);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(checkout.root.join(".local/stack.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, written);
    assert_eq!(printed["policy_table_name"], "groupgate-local-policies");
    assert_eq!(printed["local"]["cognito_endpoint"], moto.endpoint.as_str());
    assert!(printed["group_role_arns"]["admin"].is_string(), "{printed}");
    assert!(
        printed["local"]["users"][0]["password"].is_string(),
        "{printed}"
    );

    let out = checkout.run(
        "policies",
        &["token", "--user", "admin@groupgate.local"],
        &nothing,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );

    for args in [
        vec!["validate", "--table", "groupgate-local-policies"],
        vec![
            "simulate",
            "--table",
            "groupgate-local-policies",
            "--expect",
            "../deploy/access.json",
        ],
        vec!["seed-policies", "--table", "groupgate-local-policies"],
        vec!["seed-pets", "--table", "groupgate-local-pets"],
    ] {
        let out = checkout.run("policies", &args, &nothing);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let out = checkout.run(
        "policies",
        &["validate", "--table", "groupgate-local-policies"],
        &nothing,
    );
    assert!(
        stderr(&out).contains("validate: 0 errors"),
        "{}",
        stderr(&out)
    );

    // A stored policy that does not parse: the authorizer denies the group's members, and
    // validate says so (it counted 0 errors).
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    dynamodb
        .update_item()
        .table_name("groupgate-local-policies")
        .key("group", AttributeValue::S("pet-viewer".into()))
        .update_expression("SET #policy = :broken")
        .expression_attribute_names("#policy", "policy")
        .expression_attribute_values(":broken", AttributeValue::S("{\"Version\":".into()))
        .send()
        .await
        .unwrap();
    let out = checkout.run(
        "policies",
        &["validate", "--table", "groupgate-local-policies"],
        &nothing,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("group `pet-viewer` in groupgate-local-policies does not parse"),
        "{printed}"
    );
    assert!(
        stderr(&out).contains("validate: 1 error,"),
        "{}",
        stderr(&out)
    );
    let out = checkout.run(
        "policies",
        &[
            "explain",
            "--table",
            "groupgate-local-policies",
            "--groups",
            "pet-viewer",
            "--method",
            "GET",
            "--path",
            "/petstore/v1/pets",
        ],
        &nothing,
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("decision: Deny (403): policy of group `pet-viewer` is invalid")
            && printed.contains("why it is invalid: "),
        "{printed}{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_wrong_password_is_cognitos_reason_in_one_line() {
    let moto = Moto::start_own().await;
    let checkout = Checkout::new();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    checkout.provision(&moto, &gateway);
    let out = checkout.run(
        "policies",
        &["token", "--user", "admin@groupgate.local"],
        &[("GROUPGATE_PASSWORD", "Wrong-Passw0rd!")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = one_error(&out);
    assert!(
        text.contains("signing `admin@groupgate.local` in: NotAuthorizedException: "),
        "{text}"
    );
    assert!(
        text.contains("check the user's name and password"),
        "{text}"
    );
    assert!(out.stdout.is_empty(), "no token printed");
}

#[test]
fn an_unreachable_table_says_why_and_what_to_do_in_one_line() {
    let checkout = Checkout::new();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let no_credentials = [("AWS_EC2_METADATA_DISABLED", "true")];
    // The instance metadata service the SDK falls back on, unreachable (as off EC2).
    let no_metadata = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed.as_str())];
    let dead_endpoint = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", closed.as_str()),
    ];
    for (case, env, needles) in [
        (
            "no credentials",
            &no_credentials[..],
            ["no AWS credentials", "set AWS_PROFILE"],
        ),
        (
            "no instance metadata",
            &no_metadata[..],
            ["no AWS credentials", "set AWS_PROFILE"],
        ),
        (
            "a dead endpoint",
            &dead_endpoint[..],
            [
                "Connection refused",
                "check the network, and AWS_ENDPOINT_URL",
            ],
        ),
    ] {
        for command in ["validate", "simulate"] {
            let out = checkout.run("", &[command, "--table", "some-table"], env);
            assert_eq!(
                out.status.code(),
                Some(3),
                "{command}, {case}: {}",
                stderr(&out)
            );
            let text = one_error(&out);
            assert!(
                text.starts_with("error: could not read the policy table `some-table`: "),
                "{command}, {case}: {text}"
            );
            for needle in needles {
                assert!(text.contains(needle), "{command}, {case}: {text}");
            }
        }
    }
}

#[test]
fn a_broken_policy_is_the_message_even_with_rust_backtrace() {
    let checkout = Checkout::new();
    let path = checkout.root.join("policies/pet-viewer.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"Allow\"", "\"Allo\"", 1)).unwrap();
    let closed = format!("http://127.0.0.1:{}", free_port());
    for backtrace in ["1", "full"] {
        for args in [
            // What scripts/dev.sh runs first: its log's last lines are what it shows.
            vec![
                "local",
                "provision",
                "--endpoint",
                &closed,
                "--api-url",
                "http://127.0.0.1:1/prod",
            ],
            vec!["synth", "--placeholder-assets", "--out", "out"],
        ] {
            let out = checkout.run("deploy", &args, &[("RUST_BACKTRACE", backtrace)]);
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            let text = one_error(&out);
            assert!(
                text.contains("pet-viewer.json`: /policy: group `pet-viewer`: statement #0: `Effect` must be `Allow` or `Deny`, not `Allo`"),
                "{args:?}: {text}"
            );
        }
    }
}

#[test]
fn the_local_stack_not_running_is_said_with_how_to_start_it() {
    let checkout = Checkout::new();
    let no_aws = [("AWS_EC2_METADATA_DISABLED", "true")];
    let not_running = |why: &str| {
        for args in [
            vec!["describe"],
            vec!["token", "--user", "admin@groupgate.local"],
            vec!["remove-pets", "--id", "5"],
            vec!["validate", "--table", "groupgate-local-policies"],
            vec!["seed-policies", "--table", "groupgate-local-policies"],
            vec!["local", "sync"],
            vec!["local", "flush"],
            vec!["local", "tokens"],
            vec!["local", "add-user", "--user", "a@b.c", "--group", "admin"],
        ] {
            let out = checkout.run("policies", &args, &no_aws);
            assert_ne!(out.status.code(), Some(0), "{args:?}");
            let text = one_error(&out);
            assert!(
                text.contains("the local stack is not running")
                    && text.contains(why)
                    && text.contains("start it with `scripts/dev.sh`"),
                "{args:?}: {text}"
            );
        }
    };
    not_running("no .local/stack.json");

    // A description left by a run that was killed: nothing answers at its addresses.
    let moto = groupgate_testkit::free_port();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    let description = serde_json::json!({
        "api_url": format!("http://{}/prod", gateway.local_addr().unwrap()),
        "rest_api_id": "localapi01",
        "stage_name": "prod",
        "region": "us-east-1",
        "user_pool_id": "us-east-1_x",
        "user_pool_client_id": "c",
        "operator_client_id": "o",
        "policy_table_name": "groupgate-local-policies",
        "pets_table_name": "groupgate-local-pets",
        "group_role_arns": {"admin": "arn:aws:iam::123456789012:role/groupgate/local/a"},
        "local": {
            "cognito_endpoint": format!("http://127.0.0.1:{moto}"),
            "dynamodb_endpoint": format!("http://127.0.0.1:{moto}"),
            "jwks_url": format!("http://127.0.0.1:{moto}/us-east-1_x/.well-known/jwks.json"),
            "users": [],
        },
    });
    std::fs::create_dir_all(checkout.root.join(".local")).unwrap();
    std::fs::write(
        checkout.root.join(".local/stack.json"),
        description.to_string(),
    )
    .unwrap();
    not_running("the emulator at http://127.0.0.1:");
    drop(gateway);
}

/// The local gateway as `scripts/dev.sh` runs it, from the checkout, its log kept; stopped on
/// drop. Its functions are nowhere: these cases need only its address and its cache flush.
struct LocalGateway {
    child: std::process::Child,
    log: PathBuf,
}

impl LocalGateway {
    fn start_on(checkout: &Checkout, port: u16) -> Self {
        let log = checkout.root.join(".local/gateway.log");
        std::fs::create_dir_all(checkout.root.join(".local")).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_groupgate"))
            .args(["local", "gateway", "--port", &port.to_string()])
            .args(["--invoke-url", &format!("http://127.0.0.1:{}", free_port())])
            .current_dir(&checkout.root)
            .env_clear()
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for LocalGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Checkout {
    /// Provisions the local stack with a real local gateway at its address, as `dev.sh` does.
    fn provision_with_gateway(&self, moto: &Moto) -> LocalGateway {
        let port = free_port();
        {
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            self.provision(moto, &listener);
        }
        LocalGateway::start_on(self, port)
    }

    fn description(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.root.join(".local/stack.json")).unwrap())
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The claims of a JWT, unverified (moto signed it; the test reads what it says).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn sync_follows_an_edited_an_added_a_removed_and_a_broken_group_file() {
    let moto = Moto::start_own().await;
    let checkout = Checkout::new();
    let gateway = checkout.provision_with_gateway(&moto);
    let policies = checkout.root.join("policies");

    let out = checkout.run("deploy", &["local", "sync"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "policies: no change\n");
    assert!(
        gateway.log().contains("200 (flushed 0 cached results)"),
        "{}",
        gateway.log()
    );

    // A grant removed from pet-viewer, a group added, a group removed.
    let viewer = std::fs::read_to_string(policies.join("pet-viewer.json")).unwrap();
    let narrowed = viewer.replace(
        ",\n          \"arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status\"",
        "",
    );
    assert_ne!(narrowed, viewer);
    std::fs::write(policies.join("pet-viewer.json"), &narrowed).unwrap();
    std::fs::write(
        policies.join("pet-groomer.json"),
        viewer
            .replace("\"pet-viewer\"", "\"pet-groomer\"")
            .replace("\"precedence\": 20", "\"precedence\": 25"),
    )
    .unwrap();
    let vet_role = checkout.description()["group_role_arns"]["pet-veterinarian"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    std::fs::remove_file(policies.join("pet-veterinarian.json")).unwrap();
    // Its Cognito group already gone (by hand, or a sync stopped half-way): still a removal.
    let aws = moto.sdk_config().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws);
    let pool = checkout.description()["user_pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cognito
        .delete_group()
        .user_pool_id(&pool)
        .group_name("pet-veterinarian")
        .send()
        .await
        .unwrap();
    // The new group's role and demo user exist already (a sync cut off after creating them,
    // or `local add-user`): they are taken, not a failure on every later sync.
    aws_sdk_iam::Client::new(&aws)
        .create_role()
        .role_name("groupgate-local-PetGroomer")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username("pet-groomer@groupgate.local")
        .send()
        .await
        .unwrap();

    let out = checkout.run("policies", &["local", "sync"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "policies: +pet-groomer ~pet-viewer -pet-veterinarian\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(checkout.root.join(".local/stack.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(format!("{:o}", mode & 0o777), "600");
    }
    let described = checkout.description();
    let roles = described["group_role_arns"].as_object().unwrap();
    let groups: Vec<&str> = roles.keys().map(String::as_str).collect();
    assert_eq!(groups, ["admin", "pet-groomer", "pet-viewer"]);
    let users: Vec<&str> = described["local"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(users.contains(&"pet-groomer@groupgate.local"), "{users:?}");
    assert!(
        !users.contains(&"pet-veterinarian@groupgate.local"),
        "{users:?}"
    );

    // In the emulator, over the wire: the groups, the roles and the table follow.
    let mut listed: Vec<String> = cognito
        .list_groups()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .groups
        .unwrap_or_default()
        .into_iter()
        .filter_map(|g| g.group_name)
        .collect();
    listed.sort();
    assert_eq!(listed, ["admin", "pet-groomer", "pet-viewer"]);
    let iam = aws_sdk_iam::Client::new(&aws);
    assert!(
        iam.get_role().role_name(&vet_role).send().await.is_err(),
        "role removed"
    );
    let groomer_role = roles["pet-groomer"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert!(iam.get_role().role_name(groomer_role).send().await.is_ok());
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let item = |group: &str| {
        dynamodb
            .get_item()
            .table_name("groupgate-local-policies")
            .key(
                "group",
                aws_sdk_dynamodb::types::AttributeValue::S(group.into()),
            )
            .send()
    };
    let groomer = item("pet-groomer").await.unwrap().item.unwrap();
    assert_eq!(
        groomer["role_arn"].as_s().unwrap(),
        roles["pet-groomer"].as_str().unwrap()
    );
    assert!(item("pet-veterinarian").await.unwrap().item.is_none());
    let stored_viewer = item("pet-viewer").await.unwrap().item.unwrap();
    assert!(
        !stored_viewer["policy"]
            .as_s()
            .unwrap()
            .contains("v2/status")
    );
    // The new group's demo user signs in, and its token carries the group.
    let out = checkout.run(
        "policies",
        &["local", "tokens", "--user", "pet-groomer@groupgate.local"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        claims(stdout(&out).trim())["cognito:groups"],
        serde_json::json!(["pet-groomer"])
    );

    // A broken file: the error, and nothing changed.
    let before = std::fs::read(checkout.root.join(".local/stack.json")).unwrap();
    std::fs::write(
        policies.join("broken.json"),
        viewer
            .replace("\"pet-viewer\"", "\"broken\"")
            .replacen("\"Allow\"", "\"Allo\"", 1),
    )
    .unwrap();
    let out = checkout.run("policies", &["local", "sync"], &[("RUST_BACKTRACE", "1")]);
    assert_eq!(out.status.code(), Some(1));
    let text = one_error(&out);
    assert!(text.contains("policies not applied"), "{text}");
    assert!(
        text.contains("broken.json`: /policy: group `broken`: statement #0: `Effect`"),
        "{text}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read(checkout.root.join(".local/stack.json")).unwrap(),
        before
    );
    assert!(item("broken").await.unwrap().item.is_none());
    std::fs::remove_file(policies.join("broken.json")).unwrap();
    let out = checkout.run("", &["local", "sync"], &[]);
    assert_eq!(stdout(&out), "policies: no change\n", "{}", stderr(&out));
    drop(gateway);
}

#[tokio::test]
async fn a_user_is_added_to_a_group_by_hand_and_every_demo_user_gets_a_fresh_token() {
    let moto = Moto::start_own().await;
    let checkout = Checkout::new();
    let gateway = checkout.provision_with_gateway(&moto);

    let out = checkout.run(
        "",
        &[
            "local",
            "add-user",
            "--user",
            "pet-viewer@groupgate.local",
            "--group",
            "admin",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("added `pet-viewer@groupgate.local` to group `admin`"));
    let out = checkout.run(
        "",
        &[
            "local",
            "add-user",
            "--user",
            "new@example.com",
            "--group",
            "pet-viewer",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created `new@example.com` in group `pet-viewer`"));

    let out = checkout.run("policies", &["local", "tokens"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tokens: std::collections::BTreeMap<String, serde_json::Value> = stdout(&out)
        .lines()
        .map(|line| {
            let (user, token) = line.split_once(' ').unwrap();
            (user.to_owned(), claims(token)["cognito:groups"].clone())
        })
        .collect();
    let users = checkout.description()["local"]["users"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tokens.len(), users, "{tokens:?}");
    assert_eq!(tokens["new@example.com"], serde_json::json!(["pet-viewer"]));
    let mut viewer: Vec<String> =
        serde_json::from_value(tokens["pet-viewer@groupgate.local"].clone()).unwrap();
    viewer.sort();
    assert_eq!(viewer, ["admin", "pet-viewer"]);

    for (args, needle) in [
        (
            vec![
                "local",
                "add-user",
                "--user",
                "x@example.com",
                "--group",
                "nope",
            ],
            "the local stack has no group `nope`: add its file to policies/ and run `groupgate local sync`",
        ),
        (
            vec!["local", "add-user", "--user", "carol", "--group", "admin"],
            "`carol` is not an email address: the local pool signs users in by email",
        ),
        (
            vec!["local", "tokens", "--user", "ghost@example.com"],
            "`ghost@example.com` is not a user of the local stack",
        ),
    ] {
        let out = checkout.run("", &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = one_error(&out);
        assert!(text.contains(needle), "{args:?}: {text}");
    }

    let out = checkout.run("", &["local", "flush"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("flushed the local gateway's authorizer cache"));
    assert!(
        gateway
            .log()
            .contains(&format!("DELETE {}", local_gateway_cache_path()))
    );
}

fn local_gateway_cache_path() -> &'static str {
    "/_groupgate/authorizer-cache"
}
