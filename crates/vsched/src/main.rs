//! The `vsched` binary: every command of the contract (server, agent, dev, call,
//! the noun commands, bench). Logic lives in the library crates; this crate parses
//! flags, starts things and prints.

mod agent_cmd;
mod bench;
mod client;
mod dev;
mod launcher;
mod logging;
mod nouns;
mod output;
mod server_cmd;
mod sim;

use std::process::ExitCode;

/// mimalloc: the peers allocate many small, short-lived buffers per request, where
/// it is markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Exit codes of the contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const OP_ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
}

#[derive(Parser)]
#[command(
    name = "vsched",
    version,
    about = "A highly available scheduler that places and runs VMs on a fleet of hypervisors",
    after_help = nouns::help_text(),
)]
struct Cli {
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scheduler peer (Raft member, API, placement).
    Server(server_cmd::ServerArgs),
    /// Run the agent of one hypervisor host (or of many simulated nodes).
    Agent(agent_cmd::AgentArgs),
    /// Run a whole local cluster: 3 peers and 4 simulated nodes.
    Dev(dev::DevArgs),
    /// Send one operation to the cluster and print the reply.
    Call(nouns::CallArgs),
    /// Measure durable write throughput and latency of a local cluster.
    Bench(bench::BenchArgs),
    /// Replay a placement workload offline and report quality and speed.
    Sim(sim::SimArgs),
    /// Friendly client commands: `vsched <noun> <verb> [ARGS] [--field value]...`.
    #[command(external_subcommand)]
    Noun(Vec<String>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // Long-running processes log their lifecycle; client commands only problems.
    let level = match cli.command {
        Command::Server(_) | Command::Agent(_) => "info",
        _ => "warn",
    };
    logging::init(&cli.log_format, level);
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => report(server_cmd::run(args).await),
            Command::Agent(args) => report(agent_cmd::run(args).await),
            Command::Dev(args) => report(dev::run(args).await),
            Command::Bench(args) => report(bench::run(args).await),
            Command::Sim(args) => report(sim::run(args)),
            Command::Call(args) => nouns::call(args).await,
            Command::Noun(words) => nouns::noun(words).await,
        }
    });
    ExitCode::from(code)
}

/// Prints a command's error with its causes and picks the exit code.
fn report(result: anyhow::Result<()>) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::OP_ERROR
        }
    }
}
