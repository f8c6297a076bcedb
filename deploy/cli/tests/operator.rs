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
//! Each case runs the built binary with no AWS configuration but what the case gives it; the
//! AWS side is moto over the wire, or an address nobody listens on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_dynamodb::types::AttributeValue;
use groupgate_testkit::{FIXTURE_ACCESS, FIXTURE_POLICIES, Moto, free_port, unique};

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
