#![cfg(test)]
//! Condition evaluation against a small reference written from IAM's documented rules, kept
//! independent of the implementation: its own CIDR arithmetic, its own walk over the JSON.
//!
//! IAM: the operators of a `Condition` are ANDed, the keys under one operator are ANDed, and the
//! values of one key are ORed (for a negated operator such as `NotIpAddress`: the address is in
//! none of them). A condition on a key the request does not carry fails closed: an Allow does not
//! apply, a Deny does.

use std::net::IpAddr;

use groupgate_shared::{PolicyDocument, RequestFacts};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Whether `ip` is in `cidr` ("a.b.c.d/n", "a.b.c.d", or IPv6 forms), by masking integers.
fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (addr, bits) = match cidr.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().unwrap())),
        None => (cidr, None),
    };
    match (ip, addr.parse::<IpAddr>().unwrap()) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = bits.unwrap_or(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = bits.unwrap_or(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it carries.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if u128::from(v6) >> 32 == 0xffff => {
            IpAddr::V4((u128::from(v6) as u32).into())
        }
        other => other,
    }
}

/// The reference: whether a statement with `effect` and `condition` takes part for `ip`.
fn reference_applies(effect: &str, condition: &Map<String, Value>, ip: Option<IpAddr>) -> bool {
    let Some(ip) = ip.map(unmapped) else {
        return effect == "Deny";
    };
    condition.iter().all(|(operator, keys)| {
        keys.as_object().unwrap().values().all(|values| {
            let any = values
                .as_array()
                .unwrap()
                .iter()
                .any(|v| in_cidr(ip, v.as_str().unwrap()));
            if operator == "NotIpAddress" {
                !any
            } else {
                any
            }
        })
    })
}

const NETWORKS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "192.0.2.0/24",
    "192.0.2.7",
    "0.0.0.0/0",
    "203.0.113.0/25",
    "2001:db8::/32",
    "::/0",
];
const ADDRESSES: &[&str] = &[
    "10.1.2.3",
    "10.200.0.1",
    "192.0.2.7",
    "192.0.2.200",
    "203.0.113.7",
    "203.0.113.200",
    "2001:db8::1",
    "2001:db9::1",
    "::ffff:10.1.2.3",
    "::ffff:192.0.2.7",
];
const KEY_SPELLINGS: &[&str] = &["aws:SourceIp", "aws:sourceip", "AWS:SOURCEIP"];

fn keys() -> impl Strategy<Value = Map<String, Value>> {
    proptest::sample::subsequence(KEY_SPELLINGS, 1..=KEY_SPELLINGS.len()).prop_flat_map(|names| {
        let n = names.len();
        proptest::collection::vec(proptest::sample::subsequence(NETWORKS, 1..=3), n).prop_map(
            move |values| {
                names
                    .iter()
                    .zip(values)
                    .map(|(name, v)| ((*name).to_owned(), json!(v)))
                    .collect()
            },
        )
    })
}

fn condition() -> impl Strategy<Value = Map<String, Value>> {
    (proptest::option::of(keys()), proptest::option::of(keys()))
        .prop_filter("at least one operator", |(a, b)| a.is_some() || b.is_some())
        .prop_map(|(ip, not_ip)| {
            let mut condition = Map::new();
            if let Some(k) = ip {
                condition.insert("IpAddress".into(), Value::Object(k));
            }
            if let Some(k) = not_ip {
                condition.insert("NotIpAddress".into(), Value::Object(k));
            }
            condition
        })
}

proptest! {
    #[test]
    fn condition_evaluation_agrees_with_the_reference(
        condition in condition(),
        effect in prop_oneof![Just("Allow"), Just("Deny")],
        ip in proptest::option::of(proptest::sample::select(ADDRESSES)),
    ) {
        let text = json!({"Version": "2012-10-17", "Statement": [{"Effect": effect,
            "Action": "execute-api:Invoke", "Resource": "*", "Condition": condition}]}).to_string();
        let doc = PolicyDocument::from_json(&text).unwrap();
        let ip = ip.map(|a| a.parse::<IpAddr>().unwrap());
        let facts = RequestFacts { source_ip: ip };
        prop_assert_eq!(
            doc.statements[0].applies(&facts),
            reference_applies(effect, &condition, ip),
            "{} from {:?}", text, ip
        );
    }
}
