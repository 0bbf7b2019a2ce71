//! Reads the `data` object of a request into typed values, one field at a time.
//!
//! Every accessor removes the field it reads, so [`Fields::finish`] can reject fields
//! the operation does not know (a typo such as `lables` is an error, not a silent
//! no-op). Every error is `INVALID_ARGUMENT` and names the field.
//!
//! Accepted forms follow the contract: integers as JSON numbers or decimal strings
//! (the seed writes every value as a string), yes/no fields as `yes`/`no`/`y`/`n` or
//! JSON booleans, lists as a JSON array of strings or one comma-separated string, and
//! `*` for "all" where the operation allows it. `null` counts as absent.

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{OpError, OpResult};
use crate::memstr::Mem;
use crate::names::{check_name, check_path, NameKind};
use crate::types::Selector;

/// The fields of one request, consumed as they are read.
#[derive(Debug, Default)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Wraps `data`, which must be an object (or absent).
    pub fn new(data: Value) -> OpResult<Fields> {
        match data {
            Value::Null => Ok(Fields::default()),
            Value::Object(map) => Ok(Fields { map }),
            other => Err(OpError::invalid(
                "data",
                format!("'data' must be a JSON object, got {}", kind_of(&other)),
            )),
        }
    }

    /// Takes a field's raw value; `null` counts as absent.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn required<T>(name: &str, v: Option<T>) -> OpResult<T> {
        v.ok_or_else(|| OpError::invalid(name, format!("missing required field '{name}'")))
    }

    /// Whether the field holds exactly the string `text`, without consuming it.
    pub fn holds(&self, name: &str, text: &str) -> bool {
        matches!(self.map.get(name), Some(Value::String(s)) if s == text)
    }

    /// A string field.
    pub fn opt_str(&mut self, name: &str) -> OpResult<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(name, "a string", &other)),
        }
    }

    pub fn str(&mut self, name: &str) -> OpResult<String> {
        let v = self.opt_str(name)?;
        Self::required(name, v)
    }

    /// A name of the given kind (vcluster, label, namespace, login).
    pub fn opt_name(&mut self, name: &str, kind: NameKind) -> OpResult<Option<String>> {
        let Some(v) = self.opt_str(name)? else { return Ok(None) };
        check_name(&v, kind).map_err(|e| OpError::invalid(name, format!("field '{name}': {e}")))?;
        Ok(Some(v))
    }

    pub fn name(&mut self, name: &str, kind: NameKind) -> OpResult<String> {
        let v = self.opt_name(name, kind)?;
        Self::required(name, v)
    }

    /// A slash path such as `/prod/web`.
    pub fn opt_path(&mut self, name: &str) -> OpResult<Option<String>> {
        let Some(v) = self.opt_str(name)? else { return Ok(None) };
        check_path(&v).map_err(|e| OpError::invalid(name, format!("field '{name}': {e}")))?;
        Ok(Some(v))
    }

    /// An integer at least `min`.
    pub fn opt_int(&mut self, name: &str, min: u64) -> OpResult<Option<u64>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        let n = match &v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()
            }
            _ => None,
        };
        match n {
            Some(n) if n >= min => Ok(Some(n)),
            Some(n) => Err(OpError::invalid(
                name,
                format!("field '{name}' must be at least {min}, got {n}"),
            )),
            None => Err(wrong_type(name, &format!("an integer ≥ {min}"), &v)),
        }
    }

    pub fn int(&mut self, name: &str, min: u64) -> OpResult<u64> {
        let v = self.opt_int(name, min)?;
        Self::required(name, v)
    }

    /// A memory size (memstr); a JSON integer counts MiB.
    pub fn opt_mem(&mut self, name: &str) -> OpResult<Option<Mem>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        match &v {
            Value::Number(n) => match n.as_u64() {
                Some(mib) => Ok(Some(Mem(mib))),
                None => Err(wrong_type(name, "a memory size such as 512M or 4G", &v)),
            },
            Value::String(s) => Mem::parse(s)
                .map(Some)
                .map_err(|e| OpError::invalid(name, format!("field '{name}': {e}"))),
            _ => Err(wrong_type(name, "a memory size such as 512M or 4G", &v)),
        }
    }

    pub fn mem(&mut self, name: &str) -> OpResult<Mem> {
        let v = self.opt_mem(name)?;
        Self::required(name, v)
    }

    /// A yes/no field.
    pub fn opt_bool(&mut self, name: &str) -> OpResult<Option<bool>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        match &v {
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" => Ok(Some(true)),
                "no" | "n" | "false" => Ok(Some(false)),
                _ => Err(OpError::invalid(
                    name,
                    format!("field '{name}' must be yes or no, got '{s}'"),
                )),
            },
            _ => Err(wrong_type(name, "yes or no", &v)),
        }
    }

    /// A value of a string enum; the error lists the accepted values.
    pub fn opt_enum<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> OpResult<Option<T>> {
        let Some(s) = self.opt_str(name)? else { return Ok(None) };
        s.parse::<T>().map(Some).map_err(|_| {
            OpError::invalid(
                name,
                format!("field '{name}' must be one of {}, got '{s}'", allowed.join(", ")),
            )
        })
    }

    pub fn enumeration<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> OpResult<T> {
        let v = self.opt_enum(name, allowed)?;
        Self::required(name, v)
    }

    /// A list of strings: a JSON array of strings or a comma-separated string. Blank
    /// entries are dropped and duplicates removed, keeping first-seen order.
    pub fn opt_list(&mut self, name: &str) -> OpResult<Option<Vec<String>>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        let items: Vec<String> = match v {
            Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.trim().to_string()),
                        other => {
                            return Err(wrong_type(name, "a list of strings", &other));
                        }
                    }
                }
                out
            }
            other => return Err(wrong_type(name, "a list of strings", &other)),
        };
        let mut seen = std::collections::BTreeSet::new();
        Ok(Some(items.into_iter().filter(|s| !s.is_empty() && seen.insert(s.clone())).collect()))
    }

    pub fn list(&mut self, name: &str) -> OpResult<Vec<String>> {
        let v = self.opt_list(name)?;
        Self::required(name, v)
    }

    /// A list of names of one kind, each checked.
    pub fn opt_names(&mut self, name: &str, kind: NameKind) -> OpResult<Option<Vec<String>>> {
        let Some(items) = self.opt_list(name)? else { return Ok(None) };
        for item in &items {
            check_name(item, kind)
                .map_err(|e| OpError::invalid(name, format!("field '{name}': {e}")))?;
        }
        Ok(Some(items))
    }

    pub fn names(&mut self, name: &str, kind: NameKind) -> OpResult<Vec<String>> {
        let v = self.opt_names(name, kind)?;
        Self::required(name, v)
    }

    /// A list that may be `*` for "all". `*` mixed with names is an error.
    pub fn opt_selector(
        &mut self,
        name: &str,
        kind: Option<NameKind>,
    ) -> OpResult<Option<Selector>> {
        let Some(items) = self.opt_list(name)? else { return Ok(None) };
        if items.iter().any(|i| i == "*") {
            if items.len() > 1 {
                return Err(OpError::invalid(
                    name,
                    format!("field '{name}': '*' cannot be combined with names"),
                ));
            }
            return Ok(Some(Selector::All));
        }
        if let Some(kind) = kind {
            for item in &items {
                check_name(item, kind)
                    .map_err(|e| OpError::invalid(name, format!("field '{name}': {e}")))?;
            }
        }
        Ok(Some(Selector::Listed(items)))
    }

    pub fn selector(&mut self, name: &str, kind: Option<NameKind>) -> OpResult<Selector> {
        let v = self.opt_selector(name, kind)?;
        Self::required(name, v)
    }

    /// Rejects every field no accessor read.
    pub fn finish(self) -> OpResult<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(OpError::invalid(k, format!("unknown field '{k}'"))),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> OpError {
    OpError::invalid(name, format!("field '{name}' must be {expected}, got {}", kind_of(got)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorCode;

    fn fields(v: Value) -> Fields {
        Fields::new(v).unwrap()
    }

    #[test]
    fn data_must_be_an_object() {
        let err = Fields::new(json!([1])).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.field.as_deref(), Some("data"));
        assert!(Fields::new(Value::Null).is_ok());
    }

    #[test]
    fn missing_required_field_is_named() {
        let err = fields(json!({})).str("name").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
        assert!(err.message.contains("missing"));
    }

    #[test]
    fn integers_from_numbers_and_digit_strings() {
        let mut f = fields(json!({"a": 3, "b": "4", "c": "x", "d": 0, "e": -1, "f": 1.5}));
        assert_eq!(f.opt_int("a", 1).unwrap(), Some(3));
        assert_eq!(f.opt_int("b", 1).unwrap(), Some(4));
        assert_eq!(f.opt_int("c", 1).unwrap_err().field.as_deref(), Some("c"));
        assert!(f.opt_int("d", 1).unwrap_err().message.contains("at least 1"));
        assert!(f.opt_int("e", 0).is_err());
        assert!(f.opt_int("f", 0).is_err());
    }

    #[test]
    fn lists_from_arrays_and_comma_strings() {
        let mut f = fields(json!({"a": "x, y,,x", "b": ["p", "q"], "c": [1], "d": ""}));
        assert_eq!(f.list("a").unwrap(), vec!["x", "y"]);
        assert_eq!(f.list("b").unwrap(), vec!["p", "q"]);
        assert!(f.list("c").is_err());
        assert_eq!(f.list("d").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn selectors_take_a_lone_star() {
        let mut f = fields(json!({"a": "*", "b": ["*", "x"], "c": "n1,n2"}));
        assert_eq!(f.selector("a", None).unwrap(), Selector::All);
        assert!(f.selector("b", None).is_err());
        assert_eq!(
            f.selector("c", None).unwrap(),
            Selector::Listed(vec!["n1".into(), "n2".into()])
        );
    }

    #[test]
    fn yes_no_and_enums() {
        let mut f = fields(json!({"a": "y", "b": false, "c": "maybe", "d": "STOP", "e": "stop"}));
        assert_eq!(f.opt_bool("a").unwrap(), Some(true));
        assert_eq!(f.opt_bool("b").unwrap(), Some(false));
        assert!(f.opt_bool("c").is_err());
        let allowed = crate::types::DrainStrategy::NAMES;
        let d: crate::types::DrainStrategy = f.enumeration("d", allowed).unwrap();
        assert_eq!(d, crate::types::DrainStrategy::Stop);
        let err = f.opt_enum::<crate::types::DrainStrategy>("e", allowed).unwrap_err();
        assert!(err.message.contains("MIGRATE"));
    }

    #[test]
    fn unknown_fields_are_rejected_and_null_is_absent() {
        let mut f = fields(json!({"name": "x", "lables": "ssd", "descr": null}));
        f.str("name").unwrap();
        assert_eq!(f.opt_str("descr").unwrap(), None);
        let err = f.finish().unwrap_err();
        assert_eq!(err.field.as_deref(), Some("lables"));
    }

    #[test]
    fn memory_fields() {
        let mut f = fields(json!({"a": "4G", "b": 512, "c": "1.5G", "d": true}));
        assert_eq!(f.mem("a").unwrap(), Mem(4096));
        assert_eq!(f.mem("b").unwrap(), Mem(512));
        assert!(f.mem("c").is_err());
        assert!(f.mem("d").is_err());
    }
}
