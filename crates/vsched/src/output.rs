//! How replies are printed: the raw `data` as JSON, or for people a table for
//! lists and `key: value` lines for objects.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Format {
        if s == "json" {
            Format::Json
        } else {
            Format::Table
        }
    }
}

/// Columns of the lists people read most: header and path into the row.
fn columns(op: &str) -> Option<(&'static str, &'static [(&'static str, &'static str)])> {
    let cols: (&str, &[(&str, &str)]) = match op {
        "node_list" | "vcluster_nodes_list" | "labels_nodes_list" => (
            "nodes",
            &[
                ("UUID", "uuid"),
                ("HOSTNAME", "hostname"),
                ("STATUS", "status"),
                ("DRAIN", "drain"),
                ("VCPU", "capacity.vcpu"),
                ("VRAM", "capacity.vram"),
                ("USED VCPU", "allocated.vcpu"),
                ("USED VRAM", "allocated.vram"),
                ("LABELS", "labels"),
                ("HEARTBEAT MS", "heartbeat_age_ms"),
            ],
        ),
        "vcluster_list" => (
            "vclusters",
            &[
                ("NAME", "name"),
                ("PATH", "path_to"),
                ("NODES", "node_count"),
                ("RF", "rf"),
                ("LABELS", "labels"),
                ("VCPU LIMIT", "vcpu"),
                ("VRAM LIMIT", "vram"),
                ("USED VCPU", "usage.vcpu"),
                ("USED VRAM", "usage.vram"),
                ("REQUESTS", "requests"),
            ],
        ),
        "labels_list" => (
            "labels",
            &[
                ("NAME", "name"),
                ("NODES", "node_count"),
                ("IGNORED", "ignored"),
                ("DELEGATED", "delegated"),
                ("DESCR", "descr"),
            ],
        ),
        "token_list" => (
            "tokens",
            &[
                ("TOKEN ID", "token_id"),
                ("LOGIN", "login"),
                ("NS", "ns"),
                ("ROLE", "role"),
                ("CREATED", "created_at"),
            ],
        ),
        "user_param_list" => (
            "users",
            &[
                ("LOGIN", "login"),
                ("RF", "rf.value"),
                ("ISOLATION", "isolation_strategy.value"),
                ("DRAIN", "drain_strategy.value"),
                ("VCPU LIMIT", "vcpu"),
                ("VRAM LIMIT", "vram"),
                ("USED VCPU", "usage.vcpu"),
            ],
        ),
        "cluster_status" => (
            "members",
            &[
                ("ID", "id"),
                ("ROLE", "role"),
                ("PEER", "peer"),
                ("API", "api"),
                ("MATCHED", "matched_index"),
            ],
        ),
        _ => return None,
    };
    Some(cols)
}

fn lookup<'a>(row: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(row, |v, key| v.get(key).unwrap_or(&Value::Null))
}

/// A cell: scalars as they are, lists of scalars joined by commas.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(_) => v.to_string(),
        other => other.to_string(),
    }
}

fn print_table(rows: &[Value], cols: &[(&str, &str)]) {
    let cells: Vec<Vec<String>> =
        rows.iter().map(|r| cols.iter().map(|(_, path)| cell(lookup(r, path))).collect()).collect();
    let mut widths: Vec<usize> = cols.iter().map(|(h, _)| h.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |items: Vec<String>| {
        let parts: Vec<String> =
            items.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(cols.iter().map(|(h, _)| h.to_string()).collect());
    for row in cells {
        line(row);
    }
}

/// Generic columns: the scalar (or list-of-scalar) keys of the first row, with the
/// naming keys first.
fn generic_columns(rows: &[Value]) -> Vec<(String, String)> {
    let Some(Value::Object(first)) = rows.first() else { return Vec::new() };
    let mut keys: Vec<&String> =
        first.iter().filter(|(_, v)| !v.is_object()).map(|(k, _)| k).collect();
    let rank =
        |k: &str| ["name", "uuid", "login", "ns", "id"].iter().position(|n| *n == k).unwrap_or(9);
    keys.sort_by_key(|k| rank(k));
    keys.into_iter().map(|k| (k.to_uppercase(), k.clone())).collect()
}

fn print_generic_table(rows: &[Value]) {
    let cols = generic_columns(rows);
    let cols: Vec<(&str, &str)> = cols.iter().map(|(h, p)| (h.as_str(), p.as_str())).collect();
    print_table(rows, &cols);
}

pub fn print(op: &str, data: &Value, format: Format) {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(data).unwrap_or_default());
        return;
    }
    if let Some((key, cols)) = columns(op) {
        if let Some(rows) = data.get(key).and_then(Value::as_array) {
            print_table(rows, cols);
            if op == "cluster_status" {
                println!();
                print_object(data, &["members", "tables"]);
            }
            return;
        }
    }
    print_object(data, &[]);
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Array(rows) if !rows.is_empty() && rows.iter().all(Value::is_object))
}

/// An object as `key  value` lines: a resolved setting as `value (source)`, small
/// nested objects flattened to `key.sub`, and lists of objects as tables after.
fn print_object(data: &Value, skip: &[&str]) {
    let Value::Object(map) = data else {
        if !data.is_null() {
            println!("{}", cell(data));
        }
        return;
    };
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut tables: Vec<(&String, &Vec<Value>)> = Vec::new();
    for (k, v) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
        match v {
            Value::Array(rows) if is_table(v) => tables.push((k, rows)),
            Value::Object(o) if o.contains_key("value") && o.contains_key("source") => {
                lines.push((k.clone(), format!("{} ({})", cell(&o["value"]), cell(&o["source"]))));
            }
            Value::Object(o)
                if !o.is_empty()
                    && o.values().all(|x| !x.is_object() || x.get("value").is_some()) =>
            {
                for (sub, x) in o {
                    let text = match x {
                        Value::Object(s) => {
                            format!("{} ({})", cell(&s["value"]), cell(&s["source"]))
                        }
                        other => cell(other),
                    };
                    lines.push((format!("{k}.{sub}"), text));
                }
            }
            other => lines.push((k.clone(), cell(other))),
        }
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        println!("{k:<width$}  {v}");
    }
    for (k, rows) in tables {
        println!("\n{k}:");
        print_generic_table(rows);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cells_flatten_lists_and_dash_empties() {
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
        assert_eq!(cell(&json!([])), "-");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(3)), "3");
    }

    #[test]
    fn paths_reach_into_nested_objects() {
        let row = json!({"capacity": {"vcpu": 64}});
        assert_eq!(lookup(&row, "capacity.vcpu"), &json!(64));
        assert_eq!(lookup(&row, "capacity.gpu"), &Value::Null);
    }
}
