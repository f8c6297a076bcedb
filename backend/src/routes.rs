//! The routes: a REST API v1 proxy request in, a JSON response out. Nothing here panics or hangs:
//! every failure is an [`ApiError`] with a status and a message.

use aws_config::SdkConfig;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyResponse;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use crate::config::Config;
use crate::error::{ApiError, json_response};
use crate::pets::{NewPet, PetStore};
use crate::roles::RoleBroker;
use groupgate_shared::context::{Caller, IdentityError};
use groupgate_shared::cors::AllowedOrigins;

/// A resolved route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ListPetsV1,
    GetPetV1(u64),
    CreatePetV1,
    ListPetsV2,
    Status,
    Identity,
}

/// Why a request matched no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists; these are the methods it takes.
    MethodNotAllowed(&'static str),
    BadId(String),
}

/// Resolves `method path` (the path without the stage).
pub fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let by_method = |allowed: &'static str, routes: &[(Method, Route)]| {
        routes
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, r)| *r)
            .ok_or(NoRoute::MethodNotAllowed(allowed))
    };
    match path {
        "/petstore/v1/pets" => by_method(
            "GET, POST",
            &[
                (Method::GET, Route::ListPetsV1),
                (Method::POST, Route::CreatePetV1),
            ],
        ),
        "/petstore/v2/pets" => by_method("GET", &[(Method::GET, Route::ListPetsV2)]),
        "/petstore/v2/status" => by_method("GET", &[(Method::GET, Route::Status)]),
        "/petstore/v2/identity" => by_method("GET", &[(Method::GET, Route::Identity)]),
        _ => match path.strip_prefix("/petstore/v1/pets/") {
            Some(id) if !id.is_empty() && !id.contains('/') => {
                by_method("GET", &[(Method::GET, Route::GetPetV1(0))])?;
                pet_id(id)
                    .map(Route::GetPetV1)
                    .ok_or_else(|| NoRoute::BadId(id.to_owned()))
            }
            _ => Err(NoRoute::NotFound),
        },
    }
}

/// A pet id in its one canonical form: decimal digits without a sign, spaces or leading zeros.
/// `+2`, `002` and `2 ` are not ids: a policy that names `/pets/2` must not be bypassed by them.
fn pet_id(text: &str) -> Option<u64> {
    let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

fn status() -> Response<Body> {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// The backend with its long-lived parts.
pub struct App {
    pets: PetStore,
    /// The function's own DynamoDB client (used to seed, and when no role is assumed).
    dynamodb: aws_sdk_dynamodb::Client,
    /// Set when `ASSUME_GROUP_ROLE` is on.
    roles: Option<RoleBroker>,
    /// Browser origins whose pages may read the responses (CORS).
    cors: AllowedOrigins,
}

/// The DynamoDB client a request acts with, and the role behind it.
struct Acting {
    dynamodb: aws_sdk_dynamodb::Client,
    assumed: Option<crate::roles::Assumed>,
}

impl App {
    pub fn new(config: &Config, aws: &SdkConfig) -> Self {
        Self {
            pets: match &config.pets_table {
                Some(table) => PetStore::table(table.clone()),
                None => PetStore::memory(),
            },
            dynamodb: aws_sdk_dynamodb::Client::new(aws),
            roles: config.assume_group_role.then(|| {
                RoleBroker::new(
                    aws.clone(),
                    config.role_session,
                    config.allowed_role_accounts.clone(),
                    config.group_role_path.clone().unwrap_or_default(),
                )
            }),
            cors: config.cors_origins.clone(),
        }
    }

    /// Start-up work, to run within a deadline: with group roles, learns the function's own
    /// identity from STS; without, reads the pets table once (its counter), which opens the
    /// connection and resolves credentials. With group roles the function's own role may not
    /// read the table, so it is not touched. An error leaves everything to the first request.
    pub async fn warm_up(&self) -> Result<(), ApiError> {
        match &self.roles {
            Some(roles) => roles.warm_up().await,
            None => self.pets.warm_up(&self.dynamodb).await,
        }
    }

    /// Handles one proxy event as it arrives from API Gateway: an event that cannot be read as a
    /// request is a 400 that says why.
    pub async fn handle_event(&self, event: &serde_json::Value) -> ApiGatewayProxyResponse {
        match crate::proxy::read(event) {
            Ok(request) => crate::proxy::respond(self.handle(request).await),
            Err(error) => crate::proxy::respond(error.into_response()),
        }
    }

    /// Handles one request, and lets an allowed browser origin read the response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(str::to_owned);
        let mut response = self.respond(request).await;
        if !self.cors.is_empty() {
            let headers = response.headers_mut();
            headers.append(header::VARY, header::HeaderValue::from_static("Origin"));
            if let Some(allowed) = self.cors.allow(origin.as_deref())
                && let Ok(value) = header::HeaderValue::from_str(allowed)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
        }
        response
    }

    async fn respond(&self, request: Request) -> Response<Body> {
        let fields = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(c)) => Some(&c.authorizer.fields),
            _ => None,
        };
        // The event's own `path`: the resource path as called, without the stage, whatever the
        // stage is named.
        let path = request.raw_http_path();
        let result = match route(request.method(), path) {
            Ok(route) => self.serve(route, fields, request.body()).await,
            Err(NoRoute::NotFound) => Err(ApiError::not_found(format!("no route for `{path}`"))),
            Err(NoRoute::BadId(id)) => Err(ApiError::bad_request(format!(
                "pet id `{id}` is not a positive integer"
            ))),
            Err(NoRoute::MethodNotAllowed(allowed)) => {
                let mut response = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "`{}` is not allowed on `{path}` (allowed: {allowed})",
                        request.method()
                    ),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
                return response;
            }
        };
        result.unwrap_or_else(ApiError::into_response)
    }

    async fn serve(
        &self,
        route: Route,
        fields: Option<&std::collections::HashMap<String, serde_json::Value>>,
        body: &Body,
    ) -> Result<Response<Body>, ApiError> {
        // The one route that needs no caller: a health check.
        if route == Route::Status {
            return Ok(status());
        }
        let caller = fields
            .ok_or(IdentityError::Missing)
            .and_then(Caller::from_authorizer_fields)
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
        let acting = self.acting(&caller).await?;
        let pets = &self.pets;
        match route {
            Route::ListPetsV1 => {
                let list = pets.list(&acting.dynamodb).await?;
                Ok(json_response(StatusCode::OK, &json!({ "pets": list })))
            }
            Route::ListPetsV2 => {
                let list = pets.list(&acting.dynamodb).await?;
                Ok(json_response(
                    StatusCode::OK,
                    &json!({ "items": list, "count": list.len() }),
                ))
            }
            Route::GetPetV1(id) => match pets.get(&acting.dynamodb, id).await? {
                Some(pet) => Ok(json_response(StatusCode::OK, &json!(pet))),
                None => Err(ApiError::not_found(format!("no pet with id {id}"))),
            },
            Route::CreatePetV1 => {
                let new = NewPet::from_body(body.as_ref())?;
                let pet = pets.create(&acting.dynamodb, new).await?;
                Ok(json_response(StatusCode::CREATED, &json!(pet)))
            }
            Route::Identity => self.identity(&caller, &acting).await,
            Route::Status => Ok(status()),
        }
    }

    async fn acting(&self, caller: &Caller) -> Result<Acting, ApiError> {
        match &self.roles {
            None => Ok(Acting {
                dynamodb: self.dynamodb.clone(),
                assumed: None,
            }),
            Some(broker) => {
                let assumed = broker.assume_for(caller).await?;
                Ok(Acting {
                    dynamodb: aws_sdk_dynamodb::Client::new(&assumed.config),
                    assumed: Some(assumed),
                })
            }
        }
    }

    async fn identity(&self, caller: &Caller, acting: &Acting) -> Result<Response<Body>, ApiError> {
        let (role_arn, assumed_role_arn) = match &acting.assumed {
            None => (None, None),
            Some(assumed) => {
                let who = aws_sdk_sts::Client::new(&assumed.config)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| ApiError::from_sdk("STS GetCallerIdentity", e))?;
                (Some(assumed.role.arn.clone()), who.arn)
            }
        };
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "sub": caller.sub,
                "username": caller.username,
                "groups": caller.groups,
                "role_arn": role_arn,
                "assumed_role_arn": assumed_role_arn,
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_by_method_and_path() {
        assert_eq!(
            route(&Method::GET, "/petstore/v1/pets"),
            Ok(Route::ListPetsV1)
        );
        assert_eq!(
            route(&Method::POST, "/petstore/v1/pets"),
            Ok(Route::CreatePetV1)
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v1/pets/12"),
            Ok(Route::GetPetV1(12))
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v2/pets"),
            Ok(Route::ListPetsV2)
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v2/status"),
            Ok(Route::Status)
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v2/identity"),
            Ok(Route::Identity)
        );
    }

    #[test]
    fn wrong_method_unknown_path_and_bad_ids_are_told_apart() {
        assert_eq!(
            route(&Method::DELETE, "/petstore/v1/pets"),
            Err(NoRoute::MethodNotAllowed("GET, POST"))
        );
        assert_eq!(
            route(&Method::POST, "/petstore/v2/status"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::PUT, "/petstore/v1/pets/1"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v3/pets"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v1/pets/1/toys"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v1/pets/abc"),
            Err(NoRoute::BadId("abc".into()))
        );
        assert_eq!(
            route(&Method::GET, "/petstore/v1/pets/0"),
            Err(NoRoute::BadId("0".into()))
        );
        // Issue #9, row 13: only the canonical decimal form is an id.
        for id in [
            "+2",
            "002",
            "2 ",
            " 2",
            "-2",
            "2.0",
            "0x2",
            "18446744073709551616",
        ] {
            assert_eq!(
                route(&Method::GET, &format!("/petstore/v1/pets/{id}")),
                Err(NoRoute::BadId(id.into())),
                "{id:?}"
            );
        }
    }
}
