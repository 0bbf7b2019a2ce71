//! `vsched call` and the noun commands (`vsched vcluster add web --labels ssd`).
//!
//! A noun command maps 1:1 onto an operation: positional words fill the
//! operation's leading fields, `--field value` sets any field (dashes become
//! underscores), and a bare `--flag` means `yes`. Values travel as strings, which
//! the API accepts for every field type.

use clap::Args;
use serde_json::{Map, Value};

use crate::client::{CallError, Client};
use crate::exit;
use crate::output::{self, Format};

/// One friendly command.
struct NounCmd {
    noun: &'static str,
    verb: &'static str,
    op: &'static str,
    /// Fields filled by positional words, in order.
    args: &'static [&'static str],
}

macro_rules! nouns {
    ($( $noun:literal $verb:literal => $op:literal [$($arg:literal),*] ),+ $(,)?) => {
        const NOUNS: &[NounCmd] = &[
            $( NounCmd { noun: $noun, verb: $verb, op: $op, args: &[$($arg),*] } ),+
        ];
    };
}

nouns! {
    "vcluster" "add" => "vcluster_add" ["name"],
    "vcluster" "update" => "vcluster_update" ["name"],
    "vcluster" "del" => "vcluster_del" ["name"],
    "vcluster" "clear" => "vcluster_clear" ["name"],
    "vcluster" "show" => "vcluster_show" ["name"],
    "vcluster" "list" => "vcluster_list" [],
    "vcluster" "nodes" => "vcluster_nodes_list" ["name"],
    "vcluster" "nodes-add" => "vcluster_nodes_add" ["name", "uuids"],
    "vcluster" "nodes-del" => "vcluster_nodes_del" ["name", "uuids"],
    "vcluster" "taints-add" => "vcluster_taints_add" ["name", "uuids", "taints"],
    "vcluster" "taints-del" => "vcluster_taints_del" ["name", "uuids", "taints"],
    "user-param" "add" => "user_param_add" ["vcluster", "login"],
    "user-param" "update" => "user_param_update" ["vcluster", "login"],
    "user-param" "del" => "user_param_del" ["vcluster", "login"],
    "user-param" "list" => "user_param_list" ["vcluster"],
    "user-param" "show" => "user_param_show" ["vcluster"],
    "user-param" "admin" => "user_param_admin" ["vcluster", "login"],
    "labels" "add" => "labels_add" ["labels", "nodes"],
    "labels" "assign" => "labels_assign" ["labels", "nodes"],
    "labels" "unassign" => "labels_unassign" ["labels", "nodes"],
    "labels" "del" => "labels_del" ["labels"],
    "labels" "delegate" => "labels_delegate_ns" ["labels", "ns"],
    "labels" "undelegate" => "labels_undelegate_ns" ["labels", "ns"],
    "labels" "vcluster-add" => "labels_vcluster_add" ["vcluster", "labels"],
    "labels" "vcluster-del" => "labels_vcluster_del" ["vcluster", "labels"],
    "labels" "ignore" => "labels_ignore" ["labels"],
    "labels" "unignore" => "labels_unignore" ["labels"],
    "labels" "list" => "labels_list" [],
    "labels" "nodes" => "labels_nodes_list" ["labels"],
    "labels" "ns-show" => "labels_ns_show" [],
    "labels" "ns-list" => "labels_ns_list" [],
    "labels" "vcluster-show" => "labels_vcluster_show" ["vcluster"],
    "labels" "vcluster-list" => "labels_vcluster_list" [],
    "drain" "add" => "drain_add" ["nodes"],
    "drain" "del" => "drain_del" ["nodes"],
    "node" "list" => "node_list" [],
    "node" "show" => "node_show" ["uuid"],
    "node" "forget" => "node_forget" ["uuid"],
    "cluster" "status" => "cluster_status" [],
    "cluster" "member-add" => "cluster_member_add" ["id", "peer", "api"],
    "cluster" "member-remove" => "cluster_member_remove" ["id"],
    "token" "add" => "token_add" ["login"],
    "token" "del" => "token_del" ["login"],
    "token" "list" => "token_list" [],
    "plan" "drain" => "plan_drain" ["nodes"],
    "plan" "rebalance" => "plan_rebalance" [],
    "capacity" "check" => "capacity_check" [],
    "whoami" "" => "whoami" [],
}

/// Operations with a field named `ns`; for all others `--ns` names the namespace
/// the call acts in.
const OPS_WITH_NS_FIELD: &[&str] = &[
    "labels_delegate_ns",
    "labels_undelegate_ns",
    "labels_ignore",
    "labels_unignore",
    "labels_ns_show",
    "labels_ns_list",
    "token_add",
    "token_del",
    "token_list",
];

/// The noun command list shown under `vsched --help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "Client commands (VSCHED_ADDR, VSCHED_TOKEN or --addr/--token; -o json for raw output):\n",
    );
    for n in NOUNS {
        let args: Vec<String> = n.args.iter().map(|a| a.to_uppercase()).collect();
        let cmd = format!("{} {} {}", n.noun, n.verb, args.join(" "));
        out.push_str(&format!(
            "  vsched {:<44} {}\n",
            cmd.split_whitespace().collect::<Vec<_>>().join(" "),
            n.op
        ));
    }
    out.push_str("  Any field of an operation can be given as --field value.\n");
    out.push_str("Exit codes: 0 ok, 1 operation error, 2 usage error, 3 cluster unreachable.");
    out
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Operation name, e.g. vcluster_add.
    pub op: String,
    /// The operation's data as a JSON object.
    pub data: Option<String>,
    /// API addresses, comma-separated [env: VSCHED_ADDR].
    #[arg(long)]
    pub addr: Option<String>,
    /// Bearer token [env: VSCHED_TOKEN].
    #[arg(long)]
    pub token: Option<String>,
    /// Act in this namespace (admin tokens only).
    #[arg(long)]
    pub ns: Option<String>,
    /// Output: table (for people) or json (the raw data object).
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
}

pub async fn call(args: CallArgs) -> u8 {
    let data = match args.data.as_deref().map(serde_json::from_str::<Value>) {
        None => Value::Null,
        Some(Ok(v @ Value::Object(_))) => v,
        Some(Ok(_)) => return usage("the data argument must be a JSON object"),
        Some(Err(e)) => return usage(&format!("the data argument is not valid JSON: {e}")),
    };
    let client = Client::new(args.addr, args.token);
    let format = Format::parse(&args.output);
    run_op(&client, &args.op, data, args.ns.as_deref(), format).await
}

fn usage(message: &str) -> u8 {
    eprintln!("usage error: {message}");
    exit::USAGE
}

/// Sends one operation and prints the outcome; returns the exit code.
pub async fn run_op(
    client: &Client,
    op: &str,
    data: Value,
    ns: Option<&str>,
    format: Format,
) -> u8 {
    match client.call(op, data, ns).await {
        Ok(data) => {
            output::print(op, &data, format);
            exit::OK
        }
        Err(CallError::Unreachable(why)) => {
            eprintln!("error: cluster unreachable: {why}");
            exit::UNREACHABLE
        }
        Err(CallError::Op { code, message, field, details }) => {
            match field {
                Some(f) => eprintln!("error: {code}: {message} (field: {f})"),
                None => eprintln!("error: {code}: {message}"),
            }
            if let Some(d) = details {
                eprintln!("details: {d}");
            }
            if code == "UNKNOWN_OP" {
                exit::USAGE
            } else {
                exit::OP_ERROR
            }
        }
    }
}

/// Client options shared by every noun command, and the operation's fields.
struct Parsed {
    addr: Option<String>,
    token: Option<String>,
    ns: Option<String>,
    format: Format,
    data: Map<String, Value>,
}

/// Whether a word is a flag rather than a value: `--name` or `-o`.
fn is_flag(word: &str) -> bool {
    word.starts_with("--") || word == "-o"
}

fn parse_words(cmd: &NounCmd, words: &[String]) -> Result<Parsed, String> {
    let mut p =
        Parsed { addr: None, token: None, ns: None, format: Format::Table, data: Map::new() };
    let mut positional = cmd.args.iter();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let Some(flag) = word.strip_prefix("--").or_else(|| (word == "-o").then_some("output"))
        else {
            let field = positional.next().ok_or_else(|| format!("unexpected argument '{word}'"))?;
            p.data.insert((*field).to_string(), Value::String(word.clone()));
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let value = match inline {
            Some(v) => v,
            None if i < words.len() && !is_flag(&words[i]) => {
                i += 1;
                words[i - 1].clone()
            }
            None => "yes".to_string(),
        };
        match name.as_str() {
            "addr" => p.addr = Some(value),
            "token" => p.token = Some(value),
            "ns" if !OPS_WITH_NS_FIELD.contains(&cmd.op) => p.ns = Some(value),
            "output" => {
                if value != "json" && value != "table" {
                    return Err(format!("-o takes json or table, not '{value}'"));
                }
                p.format = Format::parse(&value);
            }
            field => {
                p.data.insert(field.replace('-', "_"), Value::String(value));
            }
        }
    }
    Ok(p)
}

fn noun_usage(cmd: &NounCmd) -> String {
    let args: Vec<String> = cmd.args.iter().map(|a| a.to_uppercase()).collect();
    format!(
        "vsched {} {} {} [--FIELD VALUE]... [-o json] [--addr ADDRS] [--token TOKEN]\n  sends '{}'",
        cmd.noun,
        cmd.verb,
        args.join(" "),
        cmd.op
    )
}

/// Runs `vsched <noun> <verb> ...`.
pub async fn noun(words: Vec<String>) -> u8 {
    let Some(noun) = words.first() else { return usage("missing command") };
    let single = NOUNS.iter().find(|n| n.noun == noun && n.verb.is_empty());
    let (cmd, rest) = match single {
        Some(cmd) => (cmd, &words[1..]),
        None => {
            let verb = words.get(1).map(String::as_str).unwrap_or("");
            match NOUNS.iter().find(|n| n.noun == noun && n.verb == verb) {
                Some(cmd) => (cmd, words.get(2..).unwrap_or_default()),
                None => {
                    let verbs: Vec<&str> =
                        NOUNS.iter().filter(|n| n.noun == noun).map(|n| n.verb).collect();
                    if verbs.is_empty() {
                        return usage(&format!("unknown command '{noun}'; see vsched --help"));
                    }
                    return usage(&format!("'{noun}' takes one of: {}", verbs.join(", ")));
                }
            }
        }
    };
    if rest.iter().any(|w| w == "--help" || w == "-h") {
        println!("{}", noun_usage(cmd));
        return exit::OK;
    }
    let parsed = match parse_words(cmd, rest) {
        Ok(p) => p,
        Err(e) => return usage(&format!("{e}\n{}", noun_usage(cmd))),
    };
    let client = Client::new(parsed.addr, parsed.token);
    run_op(&client, cmd.op, Value::Object(parsed.data), parsed.ns.as_deref(), parsed.format).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(noun: &str, verb: &str) -> &'static NounCmd {
        NOUNS.iter().find(|n| n.noun == noun && n.verb == verb).unwrap()
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn positional_words_fill_leading_fields_and_flags_the_rest() {
        let p = parse_words(
            cmd("vcluster", "add"),
            &words("web --labels ssd --vcpu 64 --vram-scaling -o json"),
        )
        .unwrap();
        assert_eq!(p.data["name"], "web");
        assert_eq!(p.data["labels"], "ssd");
        assert_eq!(p.data["vcpu"], "64");
        assert_eq!(p.data["vram_scaling"], "yes");
        assert_eq!(p.format, Format::Json);
    }

    #[test]
    fn client_flags_are_not_fields() {
        let p =
            parse_words(cmd("node", "list"), &words("--addr h:1 --token t --ns x --status=ready"))
                .unwrap();
        assert_eq!(p.addr.as_deref(), Some("h:1"));
        assert_eq!(p.token.as_deref(), Some("t"));
        assert_eq!(p.ns.as_deref(), Some("x"));
        assert_eq!(p.data.len(), 1);
        assert_eq!(p.data["status"], "ready");
    }

    #[test]
    fn ns_is_a_field_where_the_operation_has_one() {
        let p = parse_words(cmd("token", "add"), &words("ann --ns team --role user")).unwrap();
        assert_eq!(p.data["ns"], "team");
        assert!(p.ns.is_none());
    }

    #[test]
    fn too_many_positional_words_are_a_usage_error() {
        assert!(parse_words(cmd("vcluster", "show"), &words("a b")).is_err());
    }

    #[test]
    fn every_noun_names_an_operation_of_the_table() {
        for n in NOUNS {
            assert!(vsched_model::ops::spec_of(n.op).is_some(), "{}", n.op);
        }
    }
}
