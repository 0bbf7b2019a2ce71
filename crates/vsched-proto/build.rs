//! Generates the gRPC code from `proto/` with a vendored protoc, so a fresh machine
//! needs nothing installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts run single-threaded, so setting the variable is sound.
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=../../proto");
    tonic_prost_build::configure()
        .compile_protos(&["../../proto/raft.proto", "../../proto/agent.proto"], &["../../proto"])?;
    Ok(())
}
