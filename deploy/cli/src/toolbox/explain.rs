//! `groupgate explain`: why is this request allowed or denied? With a token, it first verifies
//! it with the authorizer's own rules ([`TokenRules::verify`]) and says, check by check, where
//! it failed. Then the decision and the statement that made it, what these groups can reach,
//! and the policy the authorizer would return. It never prints the token, and never takes it
//! from the command line (see [`TOKEN_VARIABLE`]).

use std::fmt::Write as _;

use base64::Engine as _;
use groupgate_shared::jwks::{JwksSource as _, KeySet};
use groupgate_shared::{
    DEFAULT_CLOCK_LEEWAY, ExpectedTokenUse, INVOKE_ACTION, Origin, PolicyNames, PoolNaming, Reason,
    Rejection, TokenRules, TokenUse,
};
use serde_json::{Value, json};

use super::simulate::NO_GROUP;
use super::{Catalogue, Evaluation, Request, routes};
use crate::description::StackDescription;
use crate::exit::{Undecided, UsageError};
use crate::stack::{Api, Operation};

/// Where `explain` reads the caller's token, unless `--token -` says stdin. Never a flag's value:
/// other users of the machine can read a process's command line (`ps`, `/proc/PID/cmdline`).
pub const TOKEN_VARIABLE: &str = "GROUPGATE_TOKEN";

/// What the token must be checked against.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub user_pool_id: String,
    pub client_ids: Vec<String>,
    pub token_use: ExpectedTokenUse,
    /// Where the pool's keys are (the pool's own address on AWS).
    pub jwks_url: Option<String>,
    /// How this pool's callers are named in the policy table (its group prefix).
    pub naming: PoolNaming,
    /// The group prefix of every trusted pool, this one's included.
    pub prefixes: Vec<String>,
}

/// The token's checks, in the order the authorizer makes them.
const CHECKS: [&str; 8] = [
    "format (three base64url segments, a JSON header)",
    "algorithm RS256",
    "key id in the pool's keys",
    "signature",
    "claims (present, of the right types, none repeated)",
    "issuer is the pool",
    "token use and client id",
    "time (expiry, not before, issued at, lifetime)",
];

/// Which of [`CHECKS`] a rejection failed.
fn failed_check(rejection: &Rejection) -> usize {
    match rejection {
        Rejection::Malformed(_) => 0,
        Rejection::Algorithm(_) | Rejection::CriticalHeader => 1,
        Rejection::UnknownKey => 2,
        Rejection::BadSignature => 3,
        Rejection::Claims(_) => 4,
        Rejection::Issuer => 5,
        Rejection::TokenUse | Rejection::Audience => 6,
        Rejection::Expired
        | Rejection::NotYetValid
        | Rejection::IssuedInFuture
        | Rejection::LifetimeTooLong => 7,
    }
}

/// The token's claims, read without verifying them, only to put a rejection into words.
fn unverified_claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// "3 min", "2 h 5 min", "40 s".
fn span(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// A rejection in plain words, with what the token says where that helps.
fn in_words(rejection: &Rejection, claims: &Value, settings: &TokenSettings, now: u64) -> String {
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("?");
    let number = |name: &str| claims.get(name).and_then(Value::as_u64);
    match rejection {
        Rejection::Expired => match number("exp") {
            Some(exp) => format!("expired {} ago", span(now.saturating_sub(exp))),
            None => "expired".to_owned(),
        },
        Rejection::NotYetValid => "not valid yet (nbf is in the future)".to_owned(),
        Rejection::IssuedInFuture => match number("iat") {
            Some(iat) => format!("issued {} in the future", span(iat.saturating_sub(now))),
            None => "issued in the future".to_owned(),
        },
        Rejection::TokenUse => format!(
            "token_use is {}, the authorizer accepts {}",
            claim("token_use"),
            match settings.token_use {
                ExpectedTokenUse::Access => "access",
                ExpectedTokenUse::Id => "id",
                ExpectedTokenUse::Any => "access or id",
            }
        ),
        Rejection::Audience => {
            let client = match claims.get("client_id") {
                Some(Value::String(c)) => c.as_str(),
                _ => claim("aud"),
            };
            format!(
                "client id {client} is not one of {}",
                settings.client_ids.join(", ")
            )
        }
        Rejection::Issuer => format!(
            "issuer {} is not the pool {}",
            claim("iss"),
            settings.user_pool_id
        ),
        Rejection::UnknownKey => {
            "its key id is not among the pool's keys (another pool, or rotated keys)".to_owned()
        }
        Rejection::BadSignature => {
            "the signature does not verify: it was altered or signed by another key".to_owned()
        }
        other => other.to_string(),
    }
}

/// What `explain` found: the text report and the JSON object for scripts.
pub struct Report {
    pub text: String,
    pub json: Value,
}

impl Report {
    pub fn print(&self, json: bool) {
        if json {
            super::print(&format!("{}\n", self.json));
        } else {
            super::print(&self.text);
        }
    }
}

/// The report for an `Authorization` value that holds no token the authorizer would read (see
/// [`groupgate_shared::bearer_token`]): API Gateway's 401, as the authorizer logs it (`no_token`).
fn no_token() -> Report {
    let words = "the value is neither `Bearer <token>` (the scheme in any case) nor a bare token";
    Report {
        text: format!(
            "token: {words}\ndecision: Unauthorized (401): no token. The authorizer answers `Unauthorized`; no policy is read.\n"
        ),
        json: json!({
            "decision": "deny",
            "status": 401,
            "reason": "no_token",
            "detail": words,
        }),
    }
}

/// The verified groups of `token` with the lines that say so, or a report of why it is refused
/// (API Gateway's 401). The rules are the authorizer's, with its default clock leeway.
pub async fn verify_token(
    token: &str,
    settings: &TokenSettings,
    now: u64,
) -> anyhow::Result<Result<(Vec<String>, Vec<String>), Report>> {
    let rules = TokenRules::new(
        &settings.user_pool_id,
        settings.client_ids.clone(),
        settings.token_use,
        DEFAULT_CLOCK_LEEWAY,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = settings
        .jwks_url
        .clone()
        .unwrap_or_else(|| rules.default_jwks_url());
    let keys = groupgate_shared::jwks::HttpJwksSource::new(url.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .fetch()
        .await
        .and_then(|bytes| KeySet::from_jwks_json(&bytes))
        .map_err(|e| Undecided(format!("the pool's keys could not be read from {url}: {e}")))?;
    let heading = format!("token, checked as the authorizer does (keys from {url}):");
    match rules.verify(token, &keys, now) {
        Ok(claims) => {
            let mut lines = [vec![heading.clone()], accepted(&claims, now)].concat();
            // The keys the authorizer looks up for this caller of this pool: a person's groups,
            // or a machine client's scopes (`scope:...`), under the pool's prefix.
            let prefixes: Vec<&str> = settings.prefixes.iter().map(String::as_str).collect();
            let names = PolicyNames::among(&settings.naming, &prefixes)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let keys = match names.policy_keys(&claims) {
                Ok(keys) => keys.keys.into_owned(),
                Err(rejection) => {
                    let claims = unverified_claims(token);
                    return Ok(Err(refused(heading, &rejection, &claims, settings, now)));
                }
            };
            if claims.principal_type() == groupgate_shared::PrincipalType::Client {
                lines.push(format!(
                    "  client  a machine client (client-credentials token): its scopes' policies: {}",
                    keys.join(", ")
                ));
            }
            Ok(Ok((keys, lines)))
        }
        Err(rejection) => {
            let claims = unverified_claims(token);
            Ok(Err(refused(heading, &rejection, &claims, settings, now)))
        }
    }
}

/// Every check passed, and who the token is for.
fn accepted(claims: &groupgate_shared::CognitoClaims, now: u64) -> Vec<String> {
    let mut lines: Vec<String> = CHECKS.iter().map(|c| format!("  ok      {c}")).collect();
    lines.push(format!(
        "  user    sub {}, username {}, groups: {}",
        claims.sub,
        claims.username.as_deref().unwrap_or("-"),
        if claims.groups.is_empty() {
            "none".to_owned()
        } else {
            claims.groups.join(", ")
        }
    ));
    let use_ = match claims.token_use {
        TokenUse::Access => "access",
        TokenUse::Id => "id",
    };
    lines.push(format!(
        "  expires in {} ({use_} token)",
        span(claims.exp.saturating_sub(now))
    ));
    lines
}

/// The report of a refused token: each check up to the one that failed, and why in words.
fn refused(
    heading: String,
    rejection: &Rejection,
    claims: &Value,
    settings: &TokenSettings,
    now: u64,
) -> Report {
    let failed = failed_check(rejection);
    let words = in_words(rejection, claims, settings, now);
    let mut lines = vec![heading];
    for (i, check) in CHECKS.iter().enumerate() {
        let (mark, detail) = match i.cmp(&failed) {
            std::cmp::Ordering::Less => ("ok     ", String::new()),
            std::cmp::Ordering::Equal => ("FAILED ", format!(": {words}")),
            std::cmp::Ordering::Greater => ("-      ", String::new()),
        };
        lines.push(format!("  {mark} {check}{detail}"));
    }
    lines.push(format!(
        "decision: Unauthorized (401): {words}. The authorizer answers `Unauthorized`; no policy is read."
    ));
    Report {
        text: lines.join("\n") + "\n",
        json: json!({
            "decision": "deny",
            "status": 401,
            "reason": rejection.code(),
            "detail": words,
        }),
    }
}

/// Explains `request` for a caller in `groups`, with `preface` (the token's checks) first.
pub fn explain(
    api: &Api,
    catalogue: &Catalogue,
    groups: &[String],
    request: &Request,
    preface: &[String],
) -> anyhow::Result<Report> {
    let evaluation = Evaluation::new(catalogue.select(groups), request)?;
    let decision = evaluation.decision();
    let arn = evaluation.method_arn.as_str().to_owned();
    let mut text = String::new();
    for line in preface {
        let _ = writeln!(text, "{line}");
    }
    write_request(&mut text, catalogue, groups, request, &arn);
    let (origin, pattern) = match decision.reason() {
        Reason::AllowedBy(o) | Reason::DeniedBy(o) => {
            (Some(*o), matching_pattern(catalogue, o, &arn))
        }
        _ => (None, None),
    };
    let (operation, status) = caller_status(&mut text, api, request, decision.is_allow());
    let route = operation.map(|o| o.path.as_str());
    let public = operation.is_some_and(|o| o.public);
    let shown = if public { "public" } else { decision.as_str() };
    let _ = writeln!(
        text,
        "decision: {shown} ({status}): {}",
        if public {
            "the authorizer is not called; what the policies would decide is below".to_owned()
        } else {
            decision.reason().to_string()
        }
    );
    if let Some(pattern) = &pattern {
        let _ = writeln!(text, "  matching resource pattern: {pattern}");
    }
    let invalid = why_invalid(catalogue, decision.reason());
    if let Some(why) = &invalid {
        let _ = writeln!(
            text,
            "  why it is invalid: {why} (the authorizer denies the group's members every request until it is fixed and seeded again)"
        );
    }
    let reference = evaluation.reference_allows();
    if reference != Ok(decision.is_allow()) {
        anyhow::bail!(
            "the returned policy evaluates to {reference:?}, not {}: report this",
            decision.as_str()
        );
    }
    let reachable = write_reachable(&mut text, api, catalogue, groups, request)?;
    let _ = writeln!(
        text,
        "returned to API Gateway (action {INVOKE_ACTION}):\n{}",
        serde_json::to_string_pretty(&evaluation.returned)?
    );
    let json = json!({
        "decision": shown.to_lowercase(),
        "status": status,
        "route": route,
        "reason": decision.reason().code(),
        "detail": decision.reason().to_string(),
        "invalid_policy": invalid,
        "group": origin.map(|o| o.group),
        "statement": origin.map(|o| o.index),
        "sid": origin.and_then(|o| o.sid),
        "pattern": pattern,
        "method_arn": arn,
        "groups": groups,
        "reachable": reachable,
        "returned_policy": evaluation.returned,
    });
    Ok(Report { text, json })
}

/// The API's operation for `request` and the status its caller would see; a method the API
/// does not have is API Gateway's 403 whatever the policies say, and a public one is reached by
/// anyone, each with a warning in `text`.
fn caller_status<'a>(
    text: &mut String,
    api: &'a Api,
    request: &Request,
    allow: bool,
) -> (Option<&'a Operation>, u16) {
    let operation = api.route_of(&request.method, &request.path);
    let status = match operation {
        Some(o) if o.public => {
            let _ = writeln!(
                text,
                "warning: {} {} is public (`security: []` in the API's document): no authorizer runs, so anyone reaches it whatever the policies say",
                request.method, o.path
            );
            super::usual_status(true, &request.method)
        }
        Some(_) => super::usual_status(allow, &request.method),
        None => {
            let _ = writeln!(
                text,
                "warning: the API has no {} {}: API Gateway answers 403 `Missing Authentication Token` before the authorizer runs, whatever the policies say",
                request.method, request.path
            );
            403
        }
    };
    (operation, status)
}

/// Why the group a decision names as invalid has an invalid policy, as its stored item says.
fn why_invalid(catalogue: &Catalogue, reason: &Reason<'_>) -> Option<String> {
    match reason {
        Reason::InvalidPolicy { group } => catalogue
            .groups
            .iter()
            .find(|g| g.group == *group)
            .and_then(|g| g.policy.as_ref().err())
            .map(|why| why.to_string()),
        _ => None,
    }
}

/// The request, its method ARN, and the caller's groups (naming those the catalogue lacks).
fn write_request(
    text: &mut String,
    catalogue: &Catalogue,
    groups: &[String],
    request: &Request,
    arn: &str,
) {
    let _ = writeln!(
        text,
        "request: {} {} (stage {}) from {}: {arn}",
        request.method,
        request.path,
        request.stage,
        request
            .source_ip
            .map_or("an unknown address".to_owned(), |ip| ip.to_string()),
    );
    let names = catalogue.names();
    let missing: Vec<&str> = groups
        .iter()
        .map(String::as_str)
        .filter(|g| !names.contains(g))
        .collect();
    let _ = writeln!(
        text,
        "groups: {}",
        if groups.is_empty() {
            NO_GROUP.to_owned()
        } else {
            groups.join(", ")
        }
    );
    if !missing.is_empty() {
        let _ = writeln!(
            text,
            "  not defined in {} (they grant nothing): {}",
            catalogue.source,
            missing.join(", ")
        );
    }
}

/// The resource pattern of the deciding statement that matched `arn`.
fn matching_pattern(catalogue: &Catalogue, origin: &Origin<'_>, arn: &str) -> Option<String> {
    let statement = catalogue
        .groups
        .iter()
        .find(|g| g.group == origin.group)
        .and_then(|g| g.policy.as_ref().ok())
        .and_then(|p| p.statements.get(origin.index))?;
    statement
        .resource
        .patterns()
        .iter()
        .find(|p| p.matches(arn))
        .map(|p| p.as_str().to_owned())
}

/// What `groups` can reach: every route of the API, decided; also returned for the JSON report.
fn write_reachable(
    text: &mut String,
    api: &Api,
    catalogue: &Catalogue,
    groups: &[String],
    request: &Request,
) -> anyhow::Result<Vec<Value>> {
    let _ = writeln!(text, "what these groups can reach:");
    let mut reachable = Vec::new();
    for (method, route, path) in routes(api) {
        let other = Request {
            method: method.clone(),
            path,
            ..request.clone()
        };
        let e = Evaluation::new(catalogue.select(groups), &other)?;
        let d = e.decision();
        let _ = writeln!(text, "  {:5} {method:6} {route}", d.as_str());
        reachable
            .push(json!({"method": method, "route": route, "decision": d.as_str().to_lowercase()}));
    }
    Ok(reachable)
}

/// `groupgate explain`'s command line.
pub struct Options {
    /// `--token`: only `-` (read the token from stdin) is accepted.
    pub token: Option<String>,
    pub groups: Option<Vec<String>>,
    pub method: String,
    pub path: String,
    pub source_ip: Option<std::net::IpAddr>,
    pub now: Option<u64>,
    pub policies: std::path::PathBuf,
    pub table: Option<String>,
    pub user_pool_id: Option<String>,
    pub client_ids: Vec<String>,
    pub jwks_url: Option<String>,
    pub stack: Option<String>,
    /// A stack description; else the running local stack's, when nothing else names the pool.
    pub stack_file: Option<std::path::PathBuf>,
    pub json: bool,
    pub stage: String,
    /// The API the request is made to.
    pub api: Api,
    /// The settings' other trusted pools: a token of one is checked against it.
    pub pools: Vec<crate::stack::settings::TrustedPool>,
}

/// Runs `explain` and prints its report once it decided (allow, deny or unauthorized); an
/// [`Undecided`] error when the keys or the table cannot be read.
pub async fn run(args: Options) -> anyhow::Result<()> {
    let request = Request {
        // HTTP methods are written in capitals; `--method get` means GET.
        method: args.method.to_ascii_uppercase(),
        path: args.path.clone(),
        source_ip: args.source_ip,
        stage: args.stage.clone(),
    };
    request.method_arn()?;
    refuse_stage_prefix(&args.api, &request)?;
    let catalogue = super::load(&args.policies, args.table.as_deref()).await?;
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let (groups, preface) = match caller(&args)? {
        Caller::Token(value) => {
            let Some(token) = groupgate_shared::bearer_token(&value) else {
                no_token().print(args.json);
                return Ok(());
            };
            let token_settings = token_settings(&args, token).await?;
            match verify_token(token, &token_settings, now).await? {
                Ok((groups, lines)) => (groups, lines),
                Err(report) => {
                    report.print(args.json);
                    return Ok(());
                }
            }
        }
        Caller::Groups(groups) => (groups, Vec::new()),
    };
    let report = explain(&args.api, &catalogue, &groups, &request, &preface)?;
    report.print(args.json);
    Ok(())
}

/// `--path` is the path after the stage: a path that only names a route once the settings'
/// stage is taken off its front was given with the stage, and would be explained as another
/// (nonexistent) path.
fn refuse_stage_prefix(api: &Api, request: &Request) -> anyhow::Result<()> {
    let prefix = format!("/{}", request.stage);
    let Some(rest) = request.path.strip_prefix(&prefix) else {
        return Ok(());
    };
    if rest.starts_with('/')
        && api.route_of(&request.method, &request.path).is_none()
        && api.route_of(&request.method, rest).is_some()
    {
        return Err(anyhow::Error::new(crate::exit::UsageError(format!(
            "`--path` is the path after the stage: give `{rest}` (the stage `{}` comes from the settings)",
            request.stage
        ))));
    }
    Ok(())
}

/// Who the request is explained for.
enum Caller {
    /// An `Authorization` value, as the caller would send it (`Bearer <token>` or the token).
    Token(String),
    Groups(Vec<String>),
}

/// The caller: `--groups`, else the token on stdin (`--token -`), else the token in
/// [`TOKEN_VARIABLE`]. A token given as `--token VALUE` is refused, without repeating it.
fn caller(args: &Options) -> anyhow::Result<Caller> {
    let usage = |message: &str| anyhow::Error::new(UsageError(message.to_owned()));
    let value = match (&args.token, &args.groups) {
        (Some(flag), _) if flag != "-" => {
            return Err(usage(&format!(
                "`--token` takes only `-` (read the token from stdin): a token on the command line can be read by other users of the machine; put it in {TOKEN_VARIABLE} or pipe it to `--token -`"
            )));
        }
        (Some(_), _) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            if text.trim().is_empty() {
                return Err(usage("`--token -` read no token from stdin"));
            }
            text
        }
        (None, Some(groups)) => {
            return Ok(Caller::Groups(
                groups.iter().filter(|g| !g.is_empty()).cloned().collect(),
            ));
        }
        (None, None) => match std::env::var(TOKEN_VARIABLE) {
            Ok(text) if !text.trim().is_empty() => text,
            _ => {
                return Err(usage(&format!(
                    "give --groups, or the caller's token in {TOKEN_VARIABLE} or on stdin with `--token -`"
                )));
            }
        },
    };
    Ok(Caller::Token(value.trim().to_owned()))
}

/// The pool, clients and keys a token is checked against: the flags, else the deployed
/// stack's outputs or the description file, else the running local stack's; and when the
/// token's (unverified) issuer names one of the settings' other pools, that pool (the local
/// stack's stand-in for it, on the local stack), as the authorizer picks a pool by `iss`.
async fn token_settings(args: &Options, token: &str) -> anyhow::Result<TokenSettings> {
    let mut prefixes = vec![String::new()];
    prefixes.extend(args.pools.iter().map(|p| p.group_prefix.clone()));
    let mut settings = TokenSettings {
        user_pool_id: args.user_pool_id.clone().unwrap_or_default(),
        client_ids: args.client_ids.clone(),
        token_use: groupgate_shared::ExpectedTokenUse::Access,
        jwks_url: args.jwks_url.clone(),
        naming: PoolNaming::default(),
        prefixes,
    };
    let described = match (&args.stack, &args.stack_file) {
        (Some(name), _) => {
            let aws = crate::aws::config(crate::aws::Target::Environment).await?;
            Some(StackDescription::of_stack(&aws, name).await?)
        }
        (None, Some(path)) => Some(StackDescription::load(path)?),
        (None, None) if settings.user_pool_id.is_empty() => StackDescription::running_local().ok(),
        (None, None) => None,
    };
    if args.user_pool_id.is_none()
        && let Some(settings) = other_pool_settings(args, token, described.as_ref(), &settings)?
    {
        return Ok(settings);
    }
    if let Some(described) = described {
        let outputs = described.outputs;
        if settings.user_pool_id.is_empty() {
            settings.user_pool_id = outputs.user_pool_id;
        }
        if settings.client_ids.is_empty() {
            settings.client_ids = vec![outputs.user_pool_client_id, outputs.operator_client_id];
            settings.client_ids.extend(outputs.machine_client_id);
        }
        if settings.jwks_url.is_none() {
            settings.jwks_url = described.local.map(|l| l.jwks_url);
        }
    }
    settings.client_ids.retain(|c| !c.is_empty());
    if settings.user_pool_id.is_empty() {
        anyhow::bail!(
            "no user pool to check the token against: pass --user-pool-id and --client-id, or --stack NAME, or start the local stack (scripts/dev.sh)"
        );
    }
    Ok(settings)
}

/// The settings for a token whose (unverified) issuer is one of the settings' other pools
/// (locally, the emulator's stand-in for it): its pool, clients, keys and naming; none for
/// another issuer.
fn other_pool_settings(
    args: &Options,
    token: &str,
    described: Option<&StackDescription>,
    base: &TokenSettings,
) -> anyhow::Result<Option<TokenSettings>> {
    let issuer_pool = unverified_claims(token)
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| iss.rsplit('/').next())
        .map(str::to_owned)
        .unwrap_or_default();
    let local_pools = described
        .and_then(|d| d.local.as_ref())
        .map(|l| l.pools.as_slice())
        .unwrap_or_default();
    let stand_in = |prefix: &str| local_pools.iter().find(|lp| lp.group_prefix == prefix);
    let Some(other) = args.pools.iter().find(|p| {
        p.pool_id == issuer_pool
            || stand_in(&p.group_prefix).is_some_and(|lp| lp.pool_id == issuer_pool)
    }) else {
        return Ok(None);
    };
    let local = stand_in(&other.group_prefix);
    let mut settings = base.clone();
    settings.user_pool_id = local.map_or(other.pool_id.clone(), |l| l.pool_id.clone());
    if settings.client_ids.is_empty() {
        settings.client_ids = local.map_or(other.client_ids.clone(), |l| vec![l.client_id.clone()]);
    }
    if settings.jwks_url.is_none() {
        settings.jwks_url = local.map(|l| l.jwks_url.clone());
    }
    settings.token_use = other
        .token_use
        .parse()
        .map_err(|e: String| anyhow::anyhow!("pool `{}`: {e}", other.group_prefix))?;
    settings.naming = PoolNaming {
        group_prefix: other.group_prefix.clone(),
        scopes_for_users: other.scopes_for_users,
    };
    Ok(Some(settings))
}
