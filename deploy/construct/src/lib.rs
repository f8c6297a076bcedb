//! A small construct library in the CDK's spirit: a [`Stack`] of resources with stable logical
//! ids, referenced through typed [`Expr`]essions rather than hand-written strings, rendered to
//! deterministic CloudFormation JSON.
//!
//! - [`Expr`]: values and intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, ...);
//! - [`resources`]: constructors for the resource types this product uses.

// No function over `too-many-lines-threshold` (clippy.toml) lines outside the tests.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod resources;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// A CloudFormation value: a literal or an intrinsic function.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Ref(String),
    GetAtt(String, String),
    Sub(String),
    Join(String, Vec<Expr>),
    Select(usize, Box<Expr>),
    Split(String, Box<Expr>),
    /// `Fn::Equals`, for conditions.
    Equals(Box<Expr>, Box<Expr>),
    /// `Fn::If`: the first value when the named condition holds, the second otherwise.
    If(String, Box<Expr>, Box<Expr>),
    /// `Fn::Not`, for conditions.
    Not(Box<Expr>),
}

impl Expr {
    pub fn sub(template: impl Into<String>) -> Self {
        Expr::Sub(template.into())
    }
    pub fn join(separator: &str, parts: Vec<Expr>) -> Self {
        Expr::Join(separator.to_owned(), parts)
    }
    /// A pseudo parameter such as `AWS::Region`.
    pub fn pseudo(name: &str) -> Self {
        Expr::Ref(format!("AWS::{name}"))
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Literal(Value::String(s.to_owned()))
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Literal(Value::String(s))
    }
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Literal(v) => v.serialize(serializer),
            Expr::Ref(id) => json!({ "Ref": id }).serialize(serializer),
            Expr::GetAtt(id, attribute) => {
                json!({ "Fn::GetAtt": [id, attribute] }).serialize(serializer)
            }
            Expr::Sub(template) => json!({ "Fn::Sub": template }).serialize(serializer),
            Expr::Join(separator, parts) => {
                json!({ "Fn::Join": [separator, parts] }).serialize(serializer)
            }
            Expr::Select(index, list) => {
                json!({ "Fn::Select": [index, list] }).serialize(serializer)
            }
            Expr::Split(separator, value) => {
                json!({ "Fn::Split": [separator, value] }).serialize(serializer)
            }
            Expr::Equals(a, b) => json!({ "Fn::Equals": [a, b] }).serialize(serializer),
            Expr::If(condition, yes, no) => {
                json!({ "Fn::If": [condition, yes, no] }).serialize(serializer)
            }
            Expr::Not(condition) => json!({ "Fn::Not": [condition] }).serialize(serializer),
        }
    }
}

/// A resource added to a stack: what other resources reference it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    id: String,
}

impl Handle {
    pub fn id(&self) -> &str {
        &self.id
    }
    /// `{"Ref": id}`: the resource's primary identifier (a name, an id, ...).
    pub fn r#ref(&self) -> Expr {
        Expr::Ref(self.id.clone())
    }
    /// `{"Fn::GetAtt": [id, attribute]}`.
    pub fn get_att(&self, attribute: &str) -> Expr {
        Expr::GetAtt(self.id.clone(), attribute.to_owned())
    }
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}

/// One resource: its type, properties, and the attributes CloudFormation reads beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub kind: &'static str,
    pub properties: Value,
    pub depends_on: Vec<String>,
    /// What CloudFormation does with the resource on a stack delete or a replacement.
    pub retention: Retention,
    /// The condition the resource is created under, if any.
    pub condition: Option<String>,
    /// Security-scanner (checkov) checks that do not apply to it: (check id, why).
    pub waivers: Vec<(&'static str, &'static str)>,
}

impl Resource {
    pub fn new(kind: &'static str, properties: Value) -> Self {
        Self {
            kind,
            properties,
            depends_on: Vec::new(),
            retention: Retention::Delete,
            condition: None,
            waivers: Vec::new(),
        }
    }

    /// Tells the security scanner that these checks do not apply, each with the reason a
    /// reviewer reads in the template's `Metadata`.
    pub fn waive(mut self, waivers: &[(&'static str, &'static str)]) -> Self {
        self.waivers.extend_from_slice(waivers);
        self
    }

    pub fn depends_on(mut self, handles: &[&Handle]) -> Self {
        self.depends_on.extend(handles.iter().map(|h| h.id.clone()));
        self
    }

    /// Created only when the stack's condition `name` holds.
    pub fn when(mut self, name: &str) -> Self {
        self.condition = Some(name.to_owned());
        self
    }

    /// Kept on a stack delete and on a replacement (`DeletionPolicy` and `UpdateReplacePolicy`
    /// `Retain`), except when the stack's first create fails: then CloudFormation deletes it
    /// with the rest, so a failed first deploy leaves no orphan (`RetainExceptOnCreate`).
    pub fn retained(mut self) -> Self {
        self.retention = Retention::RetainExceptOnCreate;
        self
    }
}

/// What happens to a resource's data when its stack is deleted or the resource replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// CloudFormation's default: deleted with the stack, and when replaced.
    Delete,
    /// Kept on delete and replacement, but cleaned up when the stack's first create fails.
    RetainExceptOnCreate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub kind: &'static str,
    pub description: String,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    /// A regular expression the whole value must match, and what to tell whoever gave another.
    pub allowed_pattern: Option<(String, String)>,
}

impl Parameter {
    pub fn string(description: &str) -> Self {
        Self {
            kind: "String",
            description: description.to_owned(),
            default: None,
            allowed_values: Vec::new(),
            allowed_pattern: None,
        }
    }
    pub fn number(description: &str) -> Self {
        Self {
            kind: "Number",
            ..Self::string(description)
        }
    }
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }
    pub fn allowed(mut self, values: &[&str]) -> Self {
        self.allowed_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    /// CloudFormation refuses a value that does not match `pattern` before it changes anything,
    /// with `constraint` as the message (`AllowedPattern`, `ConstraintDescription`).
    pub fn pattern(mut self, pattern: &str, constraint: &str) -> Self {
        self.allowed_pattern = Some((pattern.to_owned(), constraint.to_owned()));
        self
    }
}

/// A construct or template error: which id, and what is wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StackError {
    #[error("logical id `{0}` is used twice")]
    DuplicateId(String),
    #[error("logical id `{0}` must be 1-255 ASCII letters and digits")]
    BadId(String),
    #[error("`{from}` refers to `{to}`, which is not in the stack")]
    DanglingReference { from: String, to: String },
}

/// A stack output: its value, what it is, and the condition it exists under, if any.
#[derive(Debug, Clone, PartialEq)]
struct Output {
    value: Expr,
    description: String,
    condition: Option<String>,
    /// The name other stacks import the value by (`Fn::ImportValue`), if exported.
    export: Option<Expr>,
}

/// A CloudFormation template under construction.
#[derive(Debug, Default)]
pub struct Stack {
    description: String,
    parameters: BTreeMap<String, Parameter>,
    conditions: BTreeMap<String, Expr>,
    rules: BTreeMap<String, Value>,
    resources: BTreeMap<String, Resource>,
    outputs: BTreeMap<String, Output>,
    errors: Vec<StackError>,
}

/// A logical-id fragment from any name: `pet-veterinarian` -> `PetVeterinarian`,
/// `/petstore/v1/pets/{id}` -> `PetstoreV1PetsId`.
pub fn id_fragment(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Stack {
    pub fn new(description: &str) -> Self {
        Self {
            description: description.to_owned(),
            ..Self::default()
        }
    }

    fn claim(&mut self, id: &str) {
        if !valid_id(id) {
            self.errors.push(StackError::BadId(id.to_owned()));
        } else if self.resources.contains_key(id) || self.parameters.contains_key(id) {
            self.errors.push(StackError::DuplicateId(id.to_owned()));
        }
    }

    /// Adds a resource; errors (a bad or repeated id) are reported by [`Stack::to_template`].
    pub fn add(&mut self, id: &str, resource: Resource) -> Handle {
        self.claim(id);
        self.resources.insert(id.to_owned(), resource);
        Handle { id: id.to_owned() }
    }

    /// Adds a parameter and returns its `Ref`.
    pub fn parameter(&mut self, id: &str, parameter: Parameter) -> Expr {
        self.claim(id);
        self.parameters.insert(id.to_owned(), parameter);
        Expr::Ref(id.to_owned())
    }

    /// Adds a condition (an `Fn::Equals` or the like) and returns its name.
    pub fn condition(&mut self, id: &str, expression: Expr) -> String {
        if !valid_id(id) || self.conditions.contains_key(id) {
            self.errors.push(StackError::DuplicateId(id.to_owned()));
        }
        self.conditions.insert(id.to_owned(), expression);
        id.to_owned()
    }

    /// A rule: when `condition` holds for the parameters' values, each assertion must hold too,
    /// or CloudFormation refuses the values, with the assertion's description, before it
    /// creates or updates anything.
    /// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html>
    pub fn rule(&mut self, id: &str, condition: Expr, assertions: &[(Expr, &str)]) {
        if !valid_id(id) || self.rules.contains_key(id) {
            self.errors.push(StackError::DuplicateId(id.to_owned()));
        }
        let assertions: Vec<Value> = assertions
            .iter()
            .map(|(assert, why)| json!({ "Assert": assert, "AssertDescription": why }))
            .collect();
        self.rules.insert(
            id.to_owned(),
            json!({ "RuleCondition": condition, "Assertions": assertions }),
        );
    }

    pub fn output(&mut self, id: &str, value: Expr, description: &str) {
        if !valid_id(id) || self.outputs.contains_key(id) {
            self.errors.push(StackError::DuplicateId(id.to_owned()));
        }
        self.outputs.insert(
            id.to_owned(),
            Output {
                value,
                description: description.to_owned(),
                condition: None,
                export: None,
            },
        );
    }

    /// An output other stacks of the account and region import by `name` (`Fn::ImportValue`).
    /// CloudFormation refuses two exports of one name in a region, so `name` should hold the
    /// stack's name.
    /// <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html>
    pub fn exported_output(&mut self, id: &str, value: Expr, description: &str, name: Expr) {
        self.output(id, value, description);
        if let Some(output) = self.outputs.get_mut(id) {
            output.export = Some(name);
        }
    }

    /// An output the stack has only when its condition `name` holds.
    pub fn output_when(&mut self, name: &str, id: &str, value: Expr, description: &str) {
        self.output(id, value, description);
        if let Some(output) = self.outputs.get_mut(id) {
            output.condition = Some(name.to_owned());
        }
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.get(id)
    }

    pub fn resource_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(id)
    }

    /// Every resource with its logical id, in id order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Resource)> {
        self.resources.iter().map(|(id, r)| (id.as_str(), r))
    }

    /// The template, after checking ids and that every `Ref`, `GetAtt` and `${...}` names
    /// something in the stack.
    pub fn to_template(&self) -> Result<Value, StackError> {
        if let Some(error) = self.errors.first() {
            return Err(error.clone());
        }
        let mut template = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
            "Parameters": self.parameters_section(),
            "Resources": self.resources_section()?,
            "Outputs": self.outputs_section()?,
        });
        if let (false, Some(map)) = (self.conditions.is_empty(), template.as_object_mut()) {
            map.insert("Conditions".into(), json!(self.conditions));
        }
        if let (false, Some(map)) = (self.rules.is_empty(), template.as_object_mut()) {
            map.insert("Rules".into(), json!(self.rules));
        }
        self.check_references(&template)?;
        Ok(canonical(template))
    }

    fn parameters_section(&self) -> serde_json::Map<String, Value> {
        let mut parameters = serde_json::Map::new();
        for (id, p) in &self.parameters {
            let mut out = serde_json::Map::new();
            out.insert("Type".into(), json!(p.kind));
            out.insert("Description".into(), json!(p.description));
            if let Some(d) = &p.default {
                out.insert("Default".into(), json!(d));
            }
            if !p.allowed_values.is_empty() {
                out.insert("AllowedValues".into(), json!(p.allowed_values));
            }
            if let Some((pattern, constraint)) = &p.allowed_pattern {
                out.insert("AllowedPattern".into(), json!(pattern));
                out.insert("ConstraintDescription".into(), json!(constraint));
            }
            parameters.insert(id.clone(), Value::Object(out));
        }
        parameters
    }

    fn resources_section(&self) -> Result<serde_json::Map<String, Value>, StackError> {
        let mut resources = serde_json::Map::new();
        for (id, r) in &self.resources {
            let mut out = serde_json::Map::new();
            out.insert("Type".into(), json!(r.kind));
            if !r.depends_on.is_empty() {
                out.insert("DependsOn".into(), json!(r.depends_on));
            }
            if let Some(condition) = &r.condition {
                self.check_condition(id, condition)?;
                out.insert("Condition".into(), json!(condition));
            }
            if r.retention == Retention::RetainExceptOnCreate {
                out.insert("DeletionPolicy".into(), json!("RetainExceptOnCreate"));
                out.insert("UpdateReplacePolicy".into(), json!("Retain"));
            }
            if !r.waivers.is_empty() {
                let skip: Vec<Value> = r
                    .waivers
                    .iter()
                    .map(|(id, why)| json!({ "id": id, "comment": why }))
                    .collect();
                out.insert("Metadata".into(), json!({ "checkov": { "skip": skip } }));
            }
            out.insert("Properties".into(), r.properties.clone());
            resources.insert(id.clone(), Value::Object(out));
        }
        Ok(resources)
    }

    fn outputs_section(&self) -> Result<serde_json::Map<String, Value>, StackError> {
        let mut outputs = serde_json::Map::new();
        for (id, output) in &self.outputs {
            let mut out = serde_json::Map::new();
            out.insert("Description".into(), json!(output.description));
            out.insert("Value".into(), json!(output.value));
            if let Some(condition) = &output.condition {
                self.check_condition(id, condition)?;
                out.insert("Condition".into(), json!(condition));
            }
            if let Some(name) = &output.export {
                out.insert("Export".into(), json!({ "Name": name }));
            }
            outputs.insert(id.clone(), Value::Object(out));
        }
        Ok(outputs)
    }

    /// `from` (a resource or an output) is created only when `condition` holds: it must be one
    /// of the stack's conditions.
    fn check_condition(&self, from: &str, condition: &str) -> Result<(), StackError> {
        if self.conditions.contains_key(condition) {
            return Ok(());
        }
        Err(StackError::DanglingReference {
            from: from.to_owned(),
            to: condition.to_owned(),
        })
    }

    fn known(&self, id: &str) -> bool {
        id.starts_with("AWS::")
            || self.resources.contains_key(id)
            || self.parameters.contains_key(id)
    }

    fn check_references(&self, template: &Value) -> Result<(), StackError> {
        fn walk(stack: &Stack, from: &str, value: &Value) -> Result<(), StackError> {
            let dangling = |to: &str| StackError::DanglingReference {
                from: from.to_owned(),
                to: to.to_owned(),
            };
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(id)) = map.get("Ref")
                        && !stack.known(id)
                    {
                        return Err(dangling(id));
                    }
                    if let Some(Value::Array(pair)) = map.get("Fn::GetAtt")
                        && let Some(Value::String(id)) = pair.first()
                        && !stack.resources.contains_key(id)
                    {
                        return Err(dangling(id));
                    }
                    if let Some(Value::Array(args)) = map.get("Fn::If")
                        && let Some(Value::String(condition)) = args.first()
                        && !stack.conditions.contains_key(condition)
                    {
                        return Err(dangling(condition));
                    }
                    if let Some(Value::String(template)) = map.get("Fn::Sub") {
                        for name in sub_names(template) {
                            let id = name.split('.').next().unwrap_or(name);
                            if !stack.known(id) {
                                return Err(dangling(id));
                            }
                        }
                    }
                    map.values().try_for_each(|v| walk(stack, from, v))
                }
                Value::Array(items) => items.iter().try_for_each(|v| walk(stack, from, v)),
                _ => Ok(()),
            }
        }
        for section in ["Resources", "Outputs"] {
            if let Some(Value::Object(entries)) = template.get(section) {
                for (id, entry) in entries {
                    walk(self, id, entry)?;
                    if let Some(Value::Array(deps)) = entry.get("DependsOn") {
                        for dep in deps.iter().filter_map(Value::as_str) {
                            if !self.resources.contains_key(dep) {
                                return Err(StackError::DanglingReference {
                                    from: id.clone(),
                                    to: dep.to_owned(),
                                });
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The same value with every object's keys in sorted order. serde_json keeps insertion order
/// when any crate in the build enables its `preserve_order` feature and sorts otherwise; this
/// makes the template byte-identical either way.
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The names in a `Fn::Sub` template's `${...}` placeholders (`${!Literal}` excluded).
fn sub_names(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let name = after.get(..end).unwrap_or_default();
        if !name.starts_with('!') {
            names.push(name);
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_render_as_intrinsics() {
        let mut stack = Stack::new("t");
        let table = stack.add("Table", Resource::new("AWS::DynamoDB::Table", json!({})));
        let name = stack.parameter("Name", Parameter::string("n"));
        stack.add(
            "Fn",
            Resource::new(
                "AWS::Lambda::Function",
                json!({"Env": table.r#ref(), "Arn": table.arn(), "N": name,
                    "J": Expr::join("-", vec!["a".into(), Expr::pseudo("Region")]),
                    "S": Expr::sub("${Table}/${AWS::AccountId}/${!Literal}")}),
            ),
        );
        let t = stack.to_template().unwrap();
        let p = &t["Resources"]["Fn"]["Properties"];
        assert_eq!(p["Env"], json!({"Ref": "Table"}));
        assert_eq!(p["Arn"], json!({"Fn::GetAtt": ["Table", "Arn"]}));
        assert_eq!(p["N"], json!({"Ref": "Name"}));
        assert_eq!(
            p["J"],
            json!({"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]})
        );
    }

    #[test]
    fn a_dangling_reference_is_an_error_naming_both_ends() {
        let mut stack = Stack::new("t");
        stack.add(
            "Fn",
            Resource::new(
                "AWS::Lambda::Function",
                json!({"X": Expr::sub("${Missing.Arn}")}),
            ),
        );
        assert_eq!(
            stack.to_template().unwrap_err(),
            StackError::DanglingReference {
                from: "Fn".into(),
                to: "Missing".into()
            }
        );
        let mut stack = Stack::new("t");
        stack.add(
            "Fn",
            Resource::new("T", json!({})).depends_on(&[&Handle { id: "Gone".into() }]),
        );
        assert!(stack.to_template().is_err());
    }

    #[test]
    fn duplicate_and_malformed_ids_are_errors() {
        let mut stack = Stack::new("t");
        stack.add("A", Resource::new("T", json!({})));
        stack.add("A", Resource::new("T", json!({})));
        assert_eq!(
            stack.to_template().unwrap_err(),
            StackError::DuplicateId("A".into())
        );
        let mut stack = Stack::new("t");
        stack.add("my-table", Resource::new("T", json!({})));
        assert_eq!(
            stack.to_template().unwrap_err(),
            StackError::BadId("my-table".into())
        );
    }

    #[test]
    fn id_fragments_are_alphanumeric_pascal_case() {
        assert_eq!(id_fragment("/petstore/v1/pets/{id}"), "PetstoreV1PetsId");
        assert_eq!(id_fragment("pet-veterinarian"), "PetVeterinarian");
    }

    #[test]
    fn templates_have_sorted_keys_whatever_serde_json_is_built_with() {
        let mut stack = Stack::new("t");
        stack.add(
            "Zeta",
            Resource::new("T", json!({"b": 1, "a": {"y": 2, "x": 3}})),
        );
        stack.add("Alpha", Resource::new("T", json!({})));
        let text = serde_json::to_string(&stack.to_template().unwrap()).unwrap();
        assert!(text.find("\"Alpha\"") < text.find("\"Zeta\""));
        assert!(text.find("\"a\"") < text.find("\"b\""));
        assert!(text.find("\"x\"") < text.find("\"y\""));
        assert!(text.find("AWSTemplateFormatVersion") < text.find("Resources"));
    }

    #[test]
    fn conditions_are_rendered_and_checked() {
        let mut stack = Stack::new("t");
        let p = stack.parameter("Existing", Parameter::string("e").default(""));
        let create = stack.condition(
            "CreateIt",
            Expr::Equals(Box::new(p.clone()), Box::new("".into())),
        );
        let made = stack.add("Made", Resource::new("T", json!({})).when(&create));
        stack.add(
            "User",
            Resource::new(
                "T",
                json!({"Arn": Expr::If(create.clone(), Box::new(made.r#ref()), Box::new(p))}),
            ),
        );
        let t = stack.to_template().unwrap();
        assert_eq!(
            t["Conditions"]["CreateIt"],
            json!({"Fn::Equals": [{"Ref": "Existing"}, ""]})
        );
        assert_eq!(t["Resources"]["Made"]["Condition"], "CreateIt");
        assert_eq!(
            t["Resources"]["User"]["Properties"]["Arn"],
            json!({"Fn::If": ["CreateIt", {"Ref": "Made"}, {"Ref": "Existing"}]})
        );
        let mut stack = Stack::new("t");
        stack.add("Made", Resource::new("T", json!({})).when("Nope"));
        assert!(stack.to_template().is_err());
    }

    #[test]
    fn a_number_parameter_renders_its_allowed_values() {
        let mut stack = Stack::new("t");
        stack.parameter(
            "Days",
            Parameter::number("d").allowed(&["1", "3"]).default("3"),
        );
        assert_eq!(
            stack.to_template().unwrap()["Parameters"]["Days"],
            json!({"Type": "Number", "Description": "d", "Default": "3", "AllowedValues": ["1", "3"]})
        );
    }

    #[test]
    fn a_string_parameter_renders_its_pattern_and_what_it_means() {
        let mut stack = Stack::new("t");
        stack.parameter(
            "Url",
            Parameter::string("u").pattern("^https://.+$", "an https address"),
        );
        assert_eq!(
            stack.to_template().unwrap()["Parameters"]["Url"],
            json!({"Type": "String", "Description": "u", "AllowedPattern": "^https://.+$",
                "ConstraintDescription": "an https address"})
        );
    }

    #[test]
    fn an_output_can_exist_only_under_a_condition_the_stack_has() {
        let mut stack = Stack::new("t");
        let p = stack.parameter("P", Parameter::string("p").default(""));
        let set = stack.condition(
            "IsSet",
            Expr::Not(Box::new(Expr::Equals(
                Box::new(p.clone()),
                Box::new("".into()),
            ))),
        );
        stack.output_when(&set, "Echo", p, "the parameter");
        let t = stack.to_template().unwrap();
        assert_eq!(
            t["Outputs"]["Echo"],
            json!({"Condition": "IsSet", "Description": "the parameter", "Value": {"Ref": "P"}})
        );
        let mut stack = Stack::new("t");
        stack.output_when("Nope", "Echo", "x".into(), "x");
        assert_eq!(
            stack.to_template().unwrap_err(),
            StackError::DanglingReference {
                from: "Echo".into(),
                to: "Nope".into()
            }
        );
    }

    #[test]
    fn sub_placeholders_are_found() {
        assert_eq!(sub_names("a${B}c${D.Arn}${!E}"), ["B", "D.Arn"]);
    }
}
