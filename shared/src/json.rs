//! JSON read strictly: an object that names a key twice is refused, at any depth.
//!
//! `serde_json` keeps the last of two equal keys, and so does every map type that reads through
//! it. In a policy that silently turns `{"Effect":"Deny","Effect":"Allow"}` into an Allow, so
//! every document we must not misread goes through [`parse_unique`] first.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `text` as JSON, refusing any object with a repeated key. The error names the key and
/// where it is (line and column).
pub fn parse_unique(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Unique>(text).map(|Unique(value)| value)
}

/// A value read from any serde format (JSON, YAML) with the same rule: an object (mapping)
/// that names a key twice is refused, at any depth.
pub struct Unique(pub Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Unique::deserialize(deserializer).map(|Unique(v)| v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_and_named() {
        for (text, key) in [
            (r#"{"a":1,"a":2}"#, "a"),
            (r#"{"x":{"Effect":"Deny","Effect":"Allow"}}"#, "Effect"),
            (r#"[{"k":[{"b":1,"b":1}]}]"#, "b"),
            (r#"{"\u0061":1,"a":2}"#, "a"),
        ] {
            let err = parse_unique(text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("duplicate key `{key}`")),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn documents_without_repeats_read_as_serde_json_reads_them() {
        let text = r#"{"a":[1,-2,3.5,true,null,"s",{"b":{}}],"c":"d","A":1}"#;
        assert_eq!(
            parse_unique(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }
}
