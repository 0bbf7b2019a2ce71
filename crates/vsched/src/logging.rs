//! Log setup: text or JSON lines on stderr, filtered by `RUST_LOG` or the
//! command's default level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(format: &str, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{default_level},openraft=warn,sled=warn,h2=warn,tower=warn,hyper=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
