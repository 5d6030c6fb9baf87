//! Checks that a response tessera built matches the operation's output shape in the model:
//! no member the model does not have, the right JSON type everywhere, required members
//! present, enum values from the model. The server runs it on every successful response in
//! debug builds, so the end-to-end suites catch any drift between tessera's hand-built
//! outputs and the official shapes (clients would otherwise drop unknown members silently).

use serde_json::Value;

use crate::model::{Operation, ServiceModel, ShapeId, ShapeKind};

impl ServiceModel {
    /// Every way `output` departs from the operation's output shape; empty when it conforms.
    pub fn check_output(&self, operation: &Operation, output: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        match operation
            .output
            .as_deref()
            .and_then(|name| self.shape_id(name))
        {
            Some(shape) => self.check(shape, output, operation.name.clone(), &mut problems, 0),
            None => {
                if output.as_object().is_none_or(|o| !o.is_empty()) {
                    problems.push(format!(
                        "{}: the model has no output, expected {{}}",
                        operation.name
                    ));
                }
            }
        }
        problems
    }

    fn check(
        &self,
        shape: ShapeId,
        value: &Value,
        path: String,
        problems: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 64 {
            problems.push(format!("{path}: nested too deeply"));
            return;
        }
        let mut wrong =
            |expected: &str| problems.push(format!("{path}: expected {expected}, got {value}"));
        match &self.shape(shape).kind {
            ShapeKind::Structure { members, document } => {
                if *document {
                    return;
                }
                let Some(object) = value.as_object() else {
                    return wrong("structure");
                };
                for (name, member_value) in object {
                    match members.iter().find(|m| &m.name == name) {
                        Some(member) if member_value.is_null() => {
                            problems
                                .push(format!("{path}.{}: null instead of absent", member.name));
                        }
                        Some(member) => self.check(
                            member.target,
                            member_value,
                            format!("{path}.{name}"),
                            problems,
                            depth + 1,
                        ),
                        None => problems
                            .push(format!("{path}.{name}: not a member of the model's shape")),
                    }
                }
                for member in members.iter().filter(|m| m.required) {
                    if !object.contains_key(&member.name) {
                        problems.push(format!("{path}.{}: required member missing", member.name));
                    }
                }
            }
            ShapeKind::List { member, .. } => match value.as_array() {
                Some(items) => {
                    for (index, item) in items.iter().enumerate() {
                        self.check(
                            *member,
                            item,
                            format!("{path}[{index}]"),
                            problems,
                            depth + 1,
                        );
                    }
                }
                None => wrong("list"),
            },
            ShapeKind::Map {
                value: value_shape, ..
            } => match value.as_object() {
                Some(object) => {
                    for (key, item) in object {
                        self.check(
                            *value_shape,
                            item,
                            format!("{path}.{key}"),
                            problems,
                            depth + 1,
                        );
                    }
                }
                None => wrong("map"),
            },
            ShapeKind::String(rules) => match value.as_str() {
                Some(text) => {
                    if let Some(enumeration) = &rules.enumeration {
                        if !enumeration.values.iter().any(|v| v == text) {
                            problems.push(format!(
                                "{path}: {text:?} is not one of {}",
                                enumeration.rendered
                            ));
                        }
                    }
                }
                None => wrong("string"),
            },
            ShapeKind::Integer { .. } => {
                if !value.is_i64() && !value.is_u64() {
                    wrong("integer");
                }
            }
            ShapeKind::Float | ShapeKind::Timestamp => {
                if !value.is_number() {
                    wrong("number");
                }
            }
            ShapeKind::Boolean => {
                if !value.is_boolean() {
                    wrong("boolean");
                }
            }
            ShapeKind::Blob { .. } => {
                if !value.is_string() {
                    wrong("base64 string");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::model::ServiceModel;

    #[test]
    fn conforming_and_drifting_outputs() {
        let model = ServiceModel::cognito_idp();
        let op = model.operation("ListUserPools").unwrap();
        let good = json!({"UserPools": [{"Id": "us-east-1_a", "Name": "n", "LambdaConfig": {}, "CreationDate": 1.5}], "NextToken": "t"});
        assert!(model.check_output(op, &good).is_empty());
        let bad = json!({"UserPools": [{"Id": 5, "Bogus": true, "LambdaConfig": null}]});
        let problems = model.check_output(op, &bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let op = model.operation("DescribeUserPool").unwrap();
        let problems =
            model.check_output(op, &json!({"UserPool": {"MfaConfiguration": "SOMETIMES"}}));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let op = model.operation("DeleteUserPool").unwrap();
        assert!(model.check_output(op, &json!({})).is_empty());
    }
}
