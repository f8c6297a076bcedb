//! The pets: in DynamoDB (`PETS_TABLE`), or in memory when no table is configured.
//!
//! The table's key is `id` (N). Item `id = 0` is the id counter (`next_id`), so new ids come from
//! one atomic update and never collide.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// The pets the in-memory store starts with, and what the operator's tool seeds an empty table
/// with (`groupgate seed-pets`), as in the sample this generalizes.
pub const DEFAULT_PETS: [&str; 4] = ["Birds", "Cats", "Dogs", "Fish"];
/// Longest pet name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;
const COUNTER_ID: &str = "0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pet {
    pub id: u64,
    pub name: String,
}

/// The body of `POST /petstore/v1/pets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPet {
    pub name: String,
}

impl NewPet {
    /// Parses and validates a request body, naming the field that is wrong.
    pub fn from_body(body: &[u8]) -> Result<Self, ApiError> {
        if body.is_empty() {
            return Err(ApiError::bad_request(
                "request body is empty: expected {\"name\": ...}",
            ));
        }
        let pet: NewPet = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(if e.is_syntax() || e.is_eof() {
                format!("request body is not valid JSON: {e}")
            } else {
                format!("request body is not a pet: {e}")
            })
        })?;
        let chars = pet.name.chars().count();
        if pet.name.trim().is_empty() || chars > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(format!(
                "field `name` must be 1 to {MAX_NAME_CHARS} characters and not blank (got {chars})"
            )));
        }
        if pet.name.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "field `name` must not contain control characters",
            ));
        }
        Ok(pet)
    }
}

/// Where pets are kept.
pub enum PetStore {
    Memory(Mutex<Vec<Pet>>),
    Table(PetTable),
}

impl PetStore {
    pub fn memory() -> Self {
        PetStore::Memory(Mutex::new(
            DEFAULT_PETS
                .iter()
                .zip(1..)
                .map(|(name, id)| Pet {
                    id,
                    name: (*name).to_owned(),
                })
                .collect(),
        ))
    }

    pub fn table(name: String) -> Self {
        PetStore::Table(PetTable { name })
    }

    /// `client` is the one to act with (the function's own, or the caller's group role's).
    pub async fn list(&self, client: &Client) -> Result<Vec<Pet>, ApiError> {
        match self {
            PetStore::Memory(pets) => Ok(pets.lock().await.clone()),
            PetStore::Table(table) => table.list(client).await,
        }
    }

    /// Reads the store once, for start-up: id 0 is the table's id counter, which always exists
    /// once seeded (and no pet).
    pub async fn warm_up(&self, client: &Client) -> Result<(), ApiError> {
        self.get(client, 0).await.map(|_| ())
    }

    pub async fn get(&self, client: &Client, id: u64) -> Result<Option<Pet>, ApiError> {
        match self {
            PetStore::Memory(pets) => Ok(pets.lock().await.iter().find(|p| p.id == id).cloned()),
            PetStore::Table(table) => table.get(client, id).await,
        }
    }

    pub async fn create(&self, client: &Client, new: NewPet) -> Result<Pet, ApiError> {
        match self {
            PetStore::Memory(pets) => {
                let mut pets = pets.lock().await;
                let id = pets.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                let pet = Pet { id, name: new.name };
                pets.push(pet.clone());
                Ok(pet)
            }
            PetStore::Table(table) => table.create(client, new).await,
        }
    }
}

pub struct PetTable {
    name: String,
}

impl PetTable {
    fn pet_from(item: &HashMap<String, AttributeValue>) -> Option<Pet> {
        let id = item.get("id")?.as_n().ok()?.parse().ok()?;
        let name = item.get("name")?.as_s().ok()?.clone();
        (id != 0).then_some(Pet { id, name })
    }

    async fn list(&self, client: &Client) -> Result<Vec<Pet>, ApiError> {
        let mut pets = Vec::new();
        let mut pages = client
            .scan()
            .table_name(&self.name)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| ApiError::from_sdk("DynamoDB Scan", e))?;
            pets.extend(Self::pet_from(&item));
        }
        pets.sort_by_key(|p| p.id);
        Ok(pets)
    }

    async fn get(&self, client: &Client, id: u64) -> Result<Option<Pet>, ApiError> {
        let output = client
            .get_item()
            .table_name(&self.name)
            .key("id", AttributeValue::N(id.to_string()))
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("DynamoDB GetItem", e))?;
        Ok(output.item.as_ref().and_then(Self::pet_from))
    }

    async fn create(&self, client: &Client, new: NewPet) -> Result<Pet, ApiError> {
        let counter = client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::N(COUNTER_ID.to_owned()))
            .update_expression("SET next_id = if_not_exists(next_id, :zero) + :one")
            .expression_attribute_values(":zero", AttributeValue::N("0".to_owned()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("DynamoDB UpdateItem", e))?;
        let id: u64 = counter
            .attributes
            .as_ref()
            .and_then(|a| a.get("next_id"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::bad_gateway("DynamoDB returned no new pet id"))?;
        client
            .put_item()
            .table_name(&self.name)
            .item("id", AttributeValue::N(id.to_string()))
            .item("name", AttributeValue::S(new.name.clone()))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("DynamoDB PutItem", e))?;
        Ok(Pet { id, name: new.name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_new_pet_is_read() {
        assert_eq!(
            NewPet::from_body(br#"{"name":"Hamsters"}"#).unwrap().name,
            "Hamsters"
        );
        let longest = format!(r#"{{"name":"{}"}}"#, "é".repeat(64));
        assert!(NewPet::from_body(longest.as_bytes()).is_ok());
    }

    #[test]
    fn bad_bodies_are_rejected_naming_what_is_wrong() {
        let too_long = format!(r#"{{"name":"{}"}}"#, "x".repeat(65));
        for (body, needle) in [
            ("", "empty"),
            ("{", "not valid JSON"),
            ("[]", "not a pet"),
            ("{}", "`name`"),
            (r#"{"name":7}"#, "invalid type"),
            (r#"{"name":""}"#, "field `name`"),
            (r#"{"name":"   "}"#, "field `name`"),
            (too_long.as_str(), "got 65"),
            (r#"{"name":"a\u0007"}"#, "control"),
            (r#"{"name":"a","owner":"b"}"#, "`owner`"),
        ] {
            let err = NewPet::from_body(body.as_bytes()).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
    }
}
